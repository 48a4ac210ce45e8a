"""Small runs and qrels read line by line into dicts, for a shell loop's ``eval``: under a few
megabytes, Python's own string methods read a file before Arrow would have loaded.

Strict on purpose: anything the full readers (runs.py, qrels.py) treat with care (gzip, stdin,
comments, other field counts, bytes that are not ASCII, a bad number, a non-finite score, a
docno twice, an empty run, a large file) raises :class:`NotPlain`, and the caller takes the
full path, which reads the rest and names every problem as ``FILE:LINE: problem``.
"""
from __future__ import annotations

import math
import os

PLAIN_BYTES = 4 << 20  # per file; from about 5 MiB on, the full path is faster (benchmarks/shell_speed.py)
_SPECIAL = "#\x0b\x0c\x1c\x1d\x1e\x1f"  # comments, and controls that str.split() takes for spaces


class NotPlain(Exception):
    """This input needs the full reader."""


def fits(paths: list[str]) -> bool:
    """Whether every path is a file small enough for these readers (checked before any is read)."""
    try:
        return all(path != "-" and os.stat(path).st_size <= PLAIN_BYTES for path in paths)
    except OSError:
        return False


def _rows(path: str, n_fields: int) -> list[list[str]]:
    if path == "-":
        raise NotPlain
    try:
        with open(path, "rb") as f:
            data = f.read(PLAIN_BYTES + 1)
    except OSError:
        raise NotPlain from None
    if len(data) > PLAIN_BYTES or not data.isascii():  # gzip's magic bytes are not ASCII
        raise NotPlain
    text = data.decode("ascii")
    if any(c in text for c in _SPECIAL):
        raise NotPlain
    rows = [line.split() for line in text.split("\n")]
    rows = [r for r in rows if r]
    if any(len(r) != n_fields for r in rows):
        raise NotPlain
    return rows


def read_run(path: str) -> dict[str, list[tuple[float, str]]]:
    """A TREC run as ``{qid: [(score, docno), ...]}`` in file order."""
    rows = _rows(path, 6)
    if not rows:
        raise NotPlain
    try:
        scores = [float(row[4]) for row in rows]
        if not all(row[3].isdigit() for row in rows):
            [int(row[3]) for row in rows]  # a signed rank is still a rank
    except ValueError:
        raise NotPlain from None
    if not all(map(math.isfinite, scores)):
        raise NotPlain
    run: dict[str, list[tuple[float, str]]] = {}
    for row, score in zip(rows, scores):
        run.setdefault(row[0], []).append((score, row[2]))
    if any(len({docno for _, docno in docs}) != len(docs) for docs in run.values()):
        raise NotPlain
    return run


def read_qrels(path: str) -> dict[str, dict[str, int]]:
    """TREC qrels as ``{qid: {docno: label}}``."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        for qid, _, docno, label in _rows(path, 4):
            judged = qrels.setdefault(qid, {})
            if docno in judged:
                raise NotPlain
            judged[docno] = int(label)
    except ValueError:
        raise NotPlain from None
    return qrels
