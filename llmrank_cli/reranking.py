"""Rescore the top-k of a run with a reranker, losing nothing on long jobs.

Queries are scored in chunks large enough to fill batches; after each chunk its queries'
lines go to ``OUT.partial`` and their ids to ``OUT.partial.done``, both flushed, so
``--resume`` skips every finished query. The final run appears atomically. ``--shard i/N``
takes every N-th query (by first appearance), for processes or machines to split a job.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError, LlmrankError
from .formats import Run, Topic, read_run, write_run
from .formats.io import STDIO

CHUNK_PAIRS = 512


@dataclass
class RerankStats:
    queries: int = 0
    pairs: int = 0
    skipped_queries: int = 0
    truncated: int = 0
    seconds: float = 0.0
    done_qids: list[str] = field(default_factory=list)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise LlmrankError(f"--shard must look like i/N (e.g. 1/4), not {text!r}") from None
    if not 1 <= i <= n:
        raise LlmrankError(f"--shard {text}: need 1 <= i <= N")
    return i, n


class _Partial:
    """OUT.partial (run lines) and OUT.partial.done (finished qids), appended and flushed."""

    def __init__(self, output: str, resume: bool):
        self.lines, self.done = Path(output + ".partial"), Path(output + ".partial.done")
        exists = self.lines.exists() or self.done.exists()
        if exists and not resume:
            raise LlmrankError(f"{self.lines} exists from an interrupted job: pass --resume to continue it, "
                               f"or delete it to start over")
        finished = set(self.done.read_text().split()) if resume and self.done.exists() else set()
        kept = []
        if finished and self.lines.exists():  # drop lines of a query whose chunk did not finish
            kept = [ln for ln in self.lines.read_text().splitlines(True) if ln.split(" ", 1)[0] in finished]
        self.finished = finished
        self.lines.write_text("".join(kept))
        self.done.write_text("".join(f"{q}\n" for q in sorted(finished)))
        self._lines = open(self.lines, "a")
        self._done = open(self.done, "a")

    def add(self, lines: list[str], qids: list[str]) -> None:
        self._lines.write("".join(lines))
        self._lines.flush()
        os.fsync(self._lines.fileno())
        self._done.write("".join(f"{q}\n" for q in qids))
        self._done.flush()

    def finish(self) -> Run:
        self._lines.close()
        self._done.close()
        return read_run(self.lines)

    def remove(self) -> None:
        self.lines.unlink(missing_ok=True)
        self.done.unlink(missing_ok=True)


def rerank(run: Run, topics: list[Topic], passages: Callable[[set[str]], dict[str, str]], reranker,
           output: str, depth: int = 100, resume: bool = False, shard: tuple[int, int] | None = None,
           tag: str | None = None, progress=None) -> RerankStats:
    """Write ``output``: the top ``depth`` of each query rescored, the rest kept in order below."""
    import time

    table = run.output_order()
    qid_col = table["qid"].to_numpy(zero_copy_only=False)
    qids = list(dict.fromkeys(qid_col.tolist()))
    if shard:
        qids = qids[shard[0] - 1::shard[1]]
    text = {t.qid: t.text for t in topics}
    missing = [q for q in qids if q not in text]
    if missing:
        raise LlmrankError(f"{len(missing)} run queries have no topic text (first: {missing[0]})")
    starts = {q: i for i, q in reversed(list(enumerate(qid_col.tolist())))}
    counts = dict(zip(*np.unique(qid_col, return_counts=True)))
    docno = table["docno"].to_numpy(zero_copy_only=False)
    to_stdout = output == STDIO
    partial = None if to_stdout else _Partial(output, resume)
    done = partial.finished if partial else set()
    todo = [q for q in qids if q not in done]
    stats = RerankStats(skipped_queries=len(qids) - len(todo))
    wanted = {d for q in todo for d in docno[starts[q]:starts[q] + min(depth, counts[q])].tolist()}
    corpus = passages(wanted)
    absent = wanted - corpus.keys()
    if absent:
        raise LlmrankError(f"{len(absent)} candidate passages are not in the corpus (first: {sorted(absent)[0]})")
    kept_lines: list[str] = []
    total_pairs = sum(min(depth, counts[q]) for q in todo)
    if progress:
        progress.start(total_pairs)
    began = time.perf_counter()
    chunk: list[str] = []
    chunk_pairs = 0
    for n, q in enumerate(todo):
        chunk.append(q)
        chunk_pairs += min(depth, counts[q])
        if chunk_pairs < CHUNK_PAIRS and n + 1 < len(todo):
            continue
        lines = _score_chunk(chunk, text, corpus, docno, starts, counts, depth, reranker, tag or run.tag)
        stats.pairs += chunk_pairs
        if partial:
            partial.add(lines, chunk)
        else:
            kept_lines += lines
        if progress:
            progress.advance(chunk_pairs)
        stats.done_qids += chunk
        chunk, chunk_pairs = [], 0
    stats.queries, stats.seconds = len(todo), time.perf_counter() - began
    stats.truncated = reranker.truncated
    result = partial.finish() if partial else _run_from_lines(kept_lines)
    write_run(result, output, tag=tag or run.tag)
    if partial:
        partial.remove()
    return stats


def _score_chunk(chunk, text, corpus, docno, starts, counts, depth, reranker, tag) -> list[str]:
    queries, docs, spans = [], [], []
    for q in chunk:
        top = docno[starts[q]:starts[q] + min(depth, counts[q])].tolist()
        spans.append((q, top, docno[starts[q] + len(top):starts[q] + counts[q]].tolist()))
        queries += [text[q]] * len(top)
        docs += [corpus[d] for d in top]
    scores = reranker.score(queries, docs)
    if not np.all(np.isfinite(scores)):
        raise LlmrankError("the reranker produced non-finite scores")
    lines, at = [], 0
    for q, top, rest in spans:
        s = scores[at:at + len(top)]
        at += len(top)
        lines += [f"{q} Q0 {d} 0 {float(v)!r} {tag}\n" for d, v in zip(top, s)]
        floor = float(s.min()) if len(s) else 0.0
        # below-depth candidates keep their order, strictly below every rescored one
        lines += [f"{q} Q0 {d} 0 {floor - 1.0 - i!r} {tag}\n" for i, d in enumerate(rest)]
    return lines


def _run_from_lines(lines: list[str]) -> Run:
    rows = [ln.split() for ln in lines]
    if not rows:
        return Run.from_columns([], [], [])
    return Run.from_columns([r[0] for r in rows], [r[2] for r in rows], [float(r[4]) for r in rows])


def merge_runs(runs: list[Run], topics: list[Topic] | None = None, tag: str | None = None) -> Run:
    """Join shard outputs, checking that every query comes from exactly one shard."""
    import pyarrow as pa
    import pyarrow.compute as pc

    owner: dict[str, str] = {}
    for run in runs:
        for q in pc.unique(run.table["qid"]).to_pylist():
            if q in owner:
                raise InputError(run.name, None, f"qid {q} is also in {owner[q]}: shards overlap")
            owner[q] = run.name
    if topics is not None:
        missing = [t.qid for t in topics if t.qid not in owner]
        if missing:
            raise LlmrankError(f"{len(missing)} topics are in no shard (first: {missing[0]})")
    table = pa.concat_tables([r.table for r in runs]) if runs else None
    return Run(table, "merged", tag or (runs[0].tag if runs else "merged"))
