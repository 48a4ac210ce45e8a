"""Qrels: TREC ``qid iter docno rel`` with integer labels (negatives allowed).

trec_eval treats a negative label as "in the pool but unjudged"; so do we.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .io import atomic_output, display_name
from .table import Column, Source, first_duplicate, load, parse_int, read_table

_COLUMNS = [
    Column("qid", 0, pa.string(), str),
    Column("docno", 2, pa.string(), str),
    Column("rel", 3, pa.int64(), parse_int),
]


@dataclass
class Qrels:
    """Judgements. ``table`` has columns qid, docno, rel (int64)."""

    table: pa.Table
    name: str = "<qrels>"
    source: Source | None = field(default=None, repr=False)

    @classmethod
    def from_columns(cls, qid, docno, rel, name: str = "<qrels>") -> "Qrels":
        return cls(pa.table({"qid": pa.array(qid, pa.string()), "docno": pa.array(docno, pa.string()),
                             "rel": pa.array(np.asarray(rel, dtype=np.int64))}), name)

    def __len__(self) -> int:
        return self.table.num_rows

    def qids(self) -> list[str]:
        return pc.unique(self.table["qid"]).to_pylist()

    def check_unique(self) -> None:
        """trec_eval stops on a docno judged twice for a query; so do we, naming the line."""
        row = first_duplicate(self.table, "qid", "docno")
        if row is not None:
            qid, docno = self.table["qid"][row], self.table["docno"][row]
            problem = f"docno {docno} is judged more than once for qid {qid}"
            raise self.source.error(row, problem) if self.source else InputError(self.name, None, problem)


def read_qrels(path) -> Qrels:
    src = load(path)
    table = read_table(path, _COLUMNS, 4, "TREC qrels (qid iter docno rel)", src=src)
    return Qrels(table, display_name(path), Source.of(path, src))


def write_qrels(qrels: Qrels, path) -> None:
    t = qrels.table
    lines = pc.binary_join_element_wise(t["qid"], "0", t["docno"], pc.cast(t["rel"], pa.string()), " ")
    with atomic_output(path) as out:
        for line in lines.to_pylist():
            out.write(line + "\n")
