"""Runs: read TREC 6-column and MS MARCO 3-column files; write TREC/MS MARCO.

A run is held as Arrow columns ``qid, docno, score, rank``. trec_eval ignores
the rank column and orders by score (descending, as a double), breaking ties by
docno descending (strcmp); :meth:`Run.ordered` gives exactly that order, and
writers emit it with ranks 1..n so every reader agrees with trec_eval.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError, LlmrankError
from .io import atomic_output, display_name
from .table import Column, Source, first_data_line, first_duplicate, load, parse_float, parse_int, read_table

RUN_FORMATS = ("auto", "trec", "msmarco")
DEFAULT_TAG = "llmrank"
TREC_ORDER = [("qid", "ascending"), ("score", "descending"), ("docno", "descending")]

_TREC_COLUMNS = [
    Column("qid", 0, pa.string(), str),
    Column("docno", 2, pa.string(), str),
    Column("rank", 3, pa.int64(), parse_int),
    Column("score", 4, pa.float64(), parse_float),
]
_MSMARCO_COLUMNS = [
    Column("qid", 0, pa.string(), str),
    Column("docno", 1, pa.string(), str),
    Column("rank", 2, pa.int64(), parse_int),
]


@dataclass
class Run:
    """A ranked list per query. ``table`` has columns qid, docno, score, rank."""

    table: pa.Table
    name: str = "<run>"
    tag: str = DEFAULT_TAG
    source: Source | None = field(default=None, repr=False)
    _checked: pa.Table | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_columns(cls, qid, docno, score, tag: str = DEFAULT_TAG, name: str = "<run>") -> "Run":
        score = np.asarray(score, dtype=np.float64)
        table = pa.table({"qid": pa.array(qid, pa.string()), "docno": pa.array(docno, pa.string()),
                          "score": score, "rank": pa.array(np.zeros(len(score), np.int64))})
        return cls(table, name, tag)

    def __len__(self) -> int:
        return self.table.num_rows

    def fail(self, row: int, problem: str) -> InputError:
        return self.source.error(row, problem) if self.source else InputError(self.name, None, problem)

    def check(self) -> None:
        """check_scores and check_unique, once per table."""
        if self._checked is not self.table:
            self.check_scores()
            self.check_unique()
            self._checked = self.table

    def check_scores(self) -> None:
        """Refuse NaN scores: no order (trec_eval's included) is defined for them."""
        nan = pc.is_nan(self.table["score"])
        if pc.any(nan).as_py():
            row = int(pc.index(nan, True).as_py())
            raise self.fail(row, f"score is NaN for qid {self.table['qid'][row]} docno {self.table['docno'][row]}")

    def check_unique(self) -> None:
        """Refuse a docno listed twice for one query (trec_eval stops on it too)."""
        row = first_duplicate(self.table, "qid", "docno")
        if row is not None:
            qid, docno = self.table["qid"][row], self.table["docno"][row]
            raise self.fail(row, f"docno {docno} appears more than once for qid {qid}")

    def ordered(self) -> pa.Table:
        """Rows in trec_eval's order: qid ascending, score descending, docno descending."""
        return self.table.take(pc.sort_indices(self.table, sort_keys=TREC_ORDER))

    def output_order(self) -> pa.Table:
        """Rows as written: queries in first-appearance order, each in trec_eval's order, ranks 1..n."""
        codes = pc.dictionary_encode(self.table["qid"]).combine_chunks().indices
        keyed = self.table.append_column("_q", codes)
        ordered = keyed.take(pc.sort_indices(keyed, sort_keys=[("_q", "ascending")] + TREC_ORDER[1:]))
        q = ordered["_q"].to_numpy()
        ranks = np.arange(1, len(q) + 1, dtype=np.int64)
        if len(q):
            starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
            ranks -= np.repeat(starts, np.diff(np.r_[starts, len(q)]))
        return ordered.drop_columns(["_q"]).set_column(3, "rank", pa.array(ranks))

    def for_queries(self, qids) -> "Run":
        """Only the rows of these queries."""
        keep = pc.is_in(self.table["qid"], value_set=pa.array(sorted(set(qids)), pa.string()))
        return Run(self.table.filter(keep), self.name, self.tag, self.source)

    def truncated(self, depth: int) -> "Run":
        """Keep the first ``depth`` documents of every query (in written order)."""
        table = self.output_order()
        return Run(table.filter(pc.less_equal(table["rank"], depth)), self.name, self.tag, self.source)


def sniff_run_format(src: str | bytes, name: str) -> str:
    line = first_data_line(src)
    if line is None:
        return "trec"
    n = len(line.split())
    if n >= 6:
        return "trec"
    if n == 3:
        return "msmarco"
    hint = " (this looks like a qrels file)" if n == 4 else ""
    raise InputError(name, None, f"expected a run with 6 fields (TREC) or 3 (MS MARCO), found {n}{hint}")


def run_tags(path) -> list[str]:
    """Every run tag a TREC run file names (a file should name one; the Run keeps the first)."""
    table = read_table(path, [Column("tag", 5, pa.string(), str)], 6, "a TREC run", extra_fields_ok=True)
    return pc.unique(table["tag"]).to_pylist()


def read_run(path, fmt: str = "auto", check: bool = True) -> Run:
    """Read a TREC (``qid Q0 docno rank score tag``) or MS MARCO (``qid docno rank``) run.

    ``check`` applies the input contract of every command that reads runs (trec_eval's too): a
    run is not empty, has no NaN score and no docno twice for a query (``FILE:LINE: problem``).
    Only `validate`, which reports every problem, reads without it."""
    name = display_name(path)
    src = load(path)
    fmt = sniff_run_format(src, name) if fmt == "auto" else fmt
    if fmt == "trec":
        table = read_table(path, _TREC_COLUMNS, 6, "a TREC run", extra_fields_ok=True, src=src)
        first = first_data_line(src)
        tag = first.split()[5] if first else DEFAULT_TAG
    elif fmt == "msmarco":
        table = read_table(path, _MSMARCO_COLUMNS, 3, "an MS MARCO run", src=src)
        # Only the rank orders an MS MARCO run: a score of -rank keeps that order exactly.
        table = table.append_column("score", pc.negate(pc.cast(table["rank"], pa.float64())))
        tag = DEFAULT_TAG
    else:
        raise LlmrankError(f"unknown run format {fmt!r}; choose from {', '.join(RUN_FORMATS)}")
    table = table.select(["qid", "docno", "score", "rank"])
    run = Run(table, name, tag, Source.of(path, src))
    if check:
        if not len(run):
            raise InputError(name, None, "the run is empty")
        run.check()
    return run


def _run_lines(table: pa.Table, fmt: str, tag: str, decimals: int | None) -> pa.Array:
    rank = pc.cast(table["rank"], pa.string())
    if fmt == "msmarco":
        return pc.binary_join_element_wise(table["qid"], table["docno"], rank, "\t")
    if decimals is None:
        score = pc.cast(table["score"], pa.string())
    else:
        score = pa.array(np.char.mod(f"%.{decimals}f", table["score"].to_numpy()), pa.string())
    return pc.binary_join_element_wise(table["qid"], "Q0", table["docno"], rank, score, tag, " ")


def check_tag(tag: str) -> str:
    if not tag or any(c.isspace() for c in tag):
        raise LlmrankError(f"run tag {tag!r} must be non-empty without whitespace")
    return tag


def run_text(run: Run, fmt: str = "trec", tag: str | None = None, chunk: int = 1 << 20,
             decimals: int | None = None) -> Iterator[str]:
    """The run's lines in trec_eval's order with ranks 1..n, a chunk of rows at a time; scores
    round-trip exactly unless ``decimals`` fixes their printed digits (then they are rounded
    first, so the order written is trec_eval's order of the printed scores)."""
    if fmt not in ("trec", "msmarco"):
        raise LlmrankError(f"unknown run output format {fmt!r}; choose trec or msmarco")
    tag = check_tag(tag or run.tag or DEFAULT_TAG)
    finite = pc.is_finite(run.table["score"])
    if not pc.all(finite).as_py():
        row = int(pc.index(finite, False).as_py())
        raise LlmrankError(f"refusing to write a run with a non-finite score "
                           f"(qid {run.table['qid'][row]}, docno {run.table['docno'][row]})")
    if decimals is not None:
        run = Run(run.table.set_column(2, "score", pc.round(run.table["score"], decimals)), run.name, run.tag)
    table = run.output_order()
    for start in range(0, table.num_rows, chunk):
        yield "\n".join(_run_lines(table.slice(start, chunk), fmt, tag, decimals).to_pylist()) + "\n"


def write_run(run: Run, path, fmt: str = "trec", tag: str | None = None, decimals: int | None = None) -> None:
    """Write :func:`run_text` atomically (``-`` is stdout)."""
    lines = run_text(run, fmt, tag, decimals=decimals)
    first = next(lines, "")  # a bad tag or score fails before the output is touched
    with atomic_output(path) as out:
        out.write(first)
        for text in lines:
            out.write(text)
