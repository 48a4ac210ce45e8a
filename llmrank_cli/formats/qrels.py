"""Qrels: TREC ``qid iter docno rel`` with integer labels (negatives allowed).

trec_eval treats a negative label as "in the pool but unjudged"; so do we.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from . import irds
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
    """TREC qrels from a file, or an ir_datasets id's (``irds:ID``)."""
    if irds.is_id(path):
        return Qrels.from_columns(*irds.qrels(path), name=path)
    src = load(path)
    table = read_table(path, _COLUMNS, 4, "TREC qrels (qid iter docno rel)", src=src)
    return Qrels(table, display_name(path), Source.of(path, src))


QRELS_FORMATS = ("auto", "trec", "cisi", "cranqrel")
# Cranfield's original relevance codes (1 = complete answer .. 4 = minimal interest, -1 = the
# question's source document) as graded labels, the mapping of the TREC-format qrels that
# ship with the collection (QRelsCorrectedforTRECeval).
CRANFIELD_GRADES = {-1: 5, 1: 4, 2: 3, 3: 2, 4: 1}


def read_any_qrels(path, fmt: str = "auto") -> Qrels:
    """TREC qrels or an old relevance file: CISI.REL (``qid docid 0 0.0``, all relevant) or
    Cranfield's cranqrel (``qid docid code``, graded by CRANFIELD_GRADES)."""
    from ..errors import LlmrankError
    from .io import iter_lines

    name = display_name(path)
    if irds.is_id(path):
        return read_qrels(path)
    if fmt == "auto":
        first = next((l.split() for _, l in iter_lines(path) if l.strip()), [])
        fmt = "cranqrel" if len(first) == 3 else "cisi" if len(first) == 4 and "." in first[3] else "trec"
    if fmt == "trec":
        return read_qrels(path)
    if fmt not in QRELS_FORMATS:
        raise LlmrankError(f"unknown qrels format {fmt!r}; choose from {', '.join(QRELS_FORMATS)}")
    rows = []
    for lineno, line in iter_lines(path):
        fields = line.split()
        if not fields:
            continue
        want = 3 if fmt == "cranqrel" else 4
        if len(fields) != want:
            raise InputError(name, lineno, f"expected {want} fields for {fmt}, found {len(fields)}")
        if fmt == "cisi":
            rows.append((fields[0], fields[1], 1))
            continue
        try:
            code = int(fields[2])
            rows.append((fields[0], fields[1], CRANFIELD_GRADES[code]))
        except (ValueError, KeyError):
            raise InputError(name, lineno, f"unknown Cranfield relevance code {fields[2]!r}") from None
    return Qrels.from_columns(*zip(*rows), name=name) if rows else Qrels.from_columns([], [], [], name=name)


def write_qrels(qrels: Qrels, path) -> None:
    t = qrels.table
    lines = pc.binary_join_element_wise(t["qid"], "0", t["docno"], pc.cast(t["rel"], pa.string()), " ")
    with atomic_output(path) as out:
        for line in lines.to_pylist():
            out.write(line + "\n")
