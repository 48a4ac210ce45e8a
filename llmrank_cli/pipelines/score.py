"""Score each query's candidates with a ranker and write the run, losing nothing on long
jobs: `rerank` (a run's top-k passages) and `rank --model DIR` (an item pool) both run here.

Queries are grouped, in input order, into chunks of about ``chunk_pairs`` pairs; the grouping
depends on the input alone. After each chunk its lines go to ``OUT.partial`` and its qids to
``OUT.partial.done``, flushed, so ``--resume`` skips finished chunks. ``--shard i/N`` takes every
N-th chunk; under a launcher (``torchrun``, ``accelerate launch``: WORLD_SIZE > 1) process r takes
every WORLD_SIZE-th chunk from r, and rank 0 gathers the lines and writes the one final run. A
chunk is scored the same whichever process scores it, so the run is byte-identical however
the work is split, resumed or merged. The final run appears atomically.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError, LlmrankError, ServiceError
from ..formats import Run, Topic, read_run, write_run
from ..formats.io import STDIO, busy
from ..kit.devices import launched

CHUNK_PAIRS = 512


@dataclass
class Query:
    """One query's candidates: ``top`` is scored, ``rest`` keeps its order below them."""

    qid: str
    text: str
    top: list[str]
    rest: list[str]


@dataclass
class ScoreStats:
    queries: int = 0
    pairs: int = 0
    skipped_queries: int = 0
    truncated: int = 0
    seconds: float = 0.0
    main: bool = True  # False in every launched process but rank 0: it writes nothing


def from_run(run: Run, topics: list[Topic], depth: int) -> list[Query]:
    """The run's queries, each with its top ``depth`` candidates to rescore."""
    table = run.output_order()
    qid_col = table["qid"].to_numpy(zero_copy_only=False)
    docno = table["docno"].to_numpy(zero_copy_only=False)
    text = {t.qid: t.text for t in topics}
    qids, starts, counts = np.unique(qid_col, return_index=True, return_counts=True)  # a query's rows are adjacent
    bounds = {q: (a, a + n) for q, a, n in zip(qids.tolist(), starts.tolist(), counts.tolist())}
    order = list(dict.fromkeys(qid_col.tolist()))
    missing = [q for q in order if q not in text]
    if missing:
        raise LlmrankError(f"{len(missing)} run queries have no topic text (first: {missing[0]})")
    out = []
    for q in order:
        a, b = bounds[q]
        out.append(Query(q, text[q], docno[a:min(b, a + depth)].tolist(), docno[a + depth:b].tolist()))
    return out


def over_pool(topics: list[Topic], items: list[str]) -> list[Query]:
    """Every item of a pool as every topic's candidates (item rankers)."""
    return [Query(t.qid, t.text, list(items), []) for t in topics]


def chunked(queries: list[Query], chunk_pairs: int) -> list[list[Query]]:
    chunks, current, pairs = [], [], 0
    for q in queries:
        current.append(q)
        pairs += len(q.top)
        if pairs >= chunk_pairs:
            chunks.append(current)
            current, pairs = [], 0
    return chunks + ([current] if current else [])


def _held(path: Path) -> bool:
    """Whether another process holds ``path``'s lock (a job writing it now, not an interrupted one)."""
    import fcntl

    try:
        with open(path) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


class _Partial:
    """OUT.partial (run lines) and OUT.partial.done (finished qids), appended and flushed. Made in
    two steps, so that nothing is written before the job's inputs are checked: reading what an
    interrupted job finished, then :meth:`open`."""

    def __init__(self, output: str, resume: bool):
        self.lines, self.done = Path(output + ".partial"), Path(output + ".partial.done")
        exists = self.lines.exists() or self.done.exists()
        if exists and not resume:
            if _held(self.lines):
                raise busy(self.lines)
            raise LlmrankError(f"{self.lines} exists from an interrupted job: pass --resume to continue it, "
                               f"or delete it to start over")
        self.created = not exists  # this invocation's own: removed again if the job fails on bad input
        self.opened = False
        self.finished = set(self.done.read_text().split()) if resume and self.done.exists() else set()

    def open(self) -> None:
        """Take OUT.partial for this process alone (another llmrank writing it is refused, its
        lines untouched), keep the finished queries' lines and append from there."""
        import fcntl

        self._lines = open(self.lines, "a+")
        try:
            fcntl.flock(self._lines, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lines.close()
            self.created = False
            raise busy(self.lines) from None
        self._lines.seek(0)
        kept = [ln for ln in self._lines.read().splitlines(True) if ln.split(" ", 1)[0] in self.finished]
        self._lines.seek(0)
        self._lines.truncate()
        self._lines.write("".join(kept))  # drops lines of a query whose chunk did not finish
        self._lines.flush()
        self.done.write_text("".join(f"{q}\n" for q in sorted(self.finished)))
        self._done = open(self.done, "a")
        self.opened = True

    def add(self, lines: list[str], qids: list[str]) -> None:
        self._lines.write("".join(lines))
        self._lines.flush()
        os.fsync(self._lines.fileno())
        self._done.write("".join(f"{q}\n" for q in qids))
        self._done.flush()

    def close(self) -> None:
        self._lines.close()
        self._done.close()

    def finish(self) -> Run:
        self.close()
        return read_run(self.lines)

    def remove(self) -> None:
        self.lines.unlink(missing_ok=True)
        self.done.unlink(missing_ok=True)


def score_queries(queries: list[Query], ranker, output: str, passages: Callable[[set[str]], dict] | None = None,
                  resume: bool = False, shard: tuple[int, int] | None = None, tag: str = "llmrank", progress=None,
                  chunk_pairs: int = CHUNK_PAIRS, share: bool = True) -> ScoreStats:
    """Write ``output``: each query's ``top`` rescored by ``ranker``, its ``rest`` kept in order
    below. ``passages(wanted ids) -> texts`` gives candidate texts; None scores the ids (items).
    ``share=False`` scores everything in this process even under a launcher (an evaluation
    that only the main process of a training runs)."""
    rank, world = launched() if share else (0, 1)
    if world > 1 and shard:
        raise LlmrankError("--shard splits a job by hand; under torchrun/accelerate each process takes its share")
    if world > 1 and output == STDIO:
        raise LlmrankError("under torchrun/accelerate give an output file (-o)")
    chunks = chunked(queries, chunk_pairs)
    part, parts = (rank, world) if world > 1 else ((shard[0] - 1, shard[1]) if shard else (0, 1))
    mine = chunks[part::parts]
    if shard and not mine:
        raise LlmrankError(f"--shard {shard[0]}/{shard[1]}: the job has only {len(chunks)} chunks of queries; use "
                           f"fewer shards or a smaller --chunk-pairs")
    partial = None if output == STDIO else _Partial(output + (f".rank{rank}-of-{world}" if world > 1 else ""),
                                                   resume)
    done = partial.finished if partial else set()
    todo = [c for c in mine if not all(q.qid in done for q in c)]
    if any(q.qid in done for c in todo for q in c):
        raise LlmrankError(f"{output}.partial was written with another --depth or --chunk-pairs: resume with the "
                           f"same settings, or delete it to start over")
    stats = ScoreStats(skipped_queries=sum(len(c) for c in mine) - sum(len(c) for c in todo), main=rank == 0)
    corpus = None
    if passages is not None:
        wanted = {d for c in todo for q in c for d in q.top}
        corpus = passages(wanted)
        absent = wanted - corpus.keys()
        if absent:
            raise LlmrankError(f"{len(absent)} candidate passages are not in the corpus (first: {sorted(absent)[0]})")
    if progress:
        progress.start(sum(len(q.top) for c in todo for q in c))
    began = time.perf_counter()
    kept: list[str] = []
    try:
        if partial:
            partial.open()
        for chunk in todo:
            lines = _score_chunk(chunk, corpus, ranker, tag)
            pairs = sum(len(q.top) for q in chunk)
            if partial:
                partial.add(lines, [q.qid for q in chunk])
            else:
                kept += lines
            stats.pairs += pairs
            stats.queries += len(chunk)
            if progress:
                progress.advance(pairs)
    except ServiceError as exc:  # a server gone: what is finished stays, and the message says how to go on
        if partial and partial.opened:
            partial.close()
            raise ServiceError(f"{exc}; {stats.queries + stats.skipped_queries} queries are done in "
                               f"{partial.lines}: rerun with --resume") from None
        raise
    except LlmrankError:  # bad input found mid-stream: nothing of this invocation stays (a resumed job's does)
        if partial and partial.created and partial.opened:
            partial.close()
            partial.remove()
        raise
    stats.seconds = time.perf_counter() - began
    stats.truncated = getattr(ranker, "truncated", 0)
    if world > 1:
        return _gather_and_write(partial, stats, output, tag, {q.qid: i for i, q in enumerate(queries)})
    result = partial.finish() if partial else _run_from_lines(kept)
    write_run(result, output, tag=tag)
    if partial:
        partial.remove()
    return stats


def _gather_and_write(partial: "_Partial", stats: ScoreStats, output: str, tag: str, order: dict) -> ScoreStats:
    """Rank 0 writes every process's lines as one run, queries in input ``order``; the
    partials go only once it exists."""
    import torch.distributed as dist

    partial.close()
    mine = (partial.lines.read_text(), stats)
    gathered = [None] * dist.get_world_size() if stats.main else None
    dist.gather_object(mine, gathered, dst=0)
    if stats.main:
        lines = sorted((ln for text, _ in gathered for ln in text.splitlines(True)),
                       key=lambda ln: order[ln.split(" ", 1)[0]])  # stable: a query's lines keep their order
        write_run(_run_from_lines(lines), output, tag=tag)
        for field in ("queries", "pairs", "skipped_queries", "truncated"):
            setattr(stats, field, sum(getattr(s, field) for _, s in gathered))
        stats.seconds = max(s.seconds for _, s in gathered)
    dist.barrier()
    partial.remove()
    return stats


def _score_chunk(chunk: list[Query], corpus: dict | None, ranker, tag: str) -> list[str]:
    texts = [[corpus[d] for d in q.top] if corpus is not None else q.top for q in chunk]
    scores = ranker.score([q.text for q in chunk], texts)
    lines = []
    for q, s in zip(chunk, scores):
        s = np.asarray(s, dtype=np.float64)
        if len(s) != len(q.top) or not np.all(np.isfinite(s)):
            raise LlmrankError(f"the ranker gave {len(s)} scores for {len(q.top)} candidates of query {q.qid}"
                               if len(s) != len(q.top) else f"the ranker produced non-finite scores (query {q.qid})")
        lines += [f"{q.qid} Q0 {d} 0 {v!r} {tag}\n" for d, v in zip(q.top + q.rest, with_rest(s, len(q.rest)))]
    return lines


def with_rest(scores: np.ndarray, rest: int) -> list[float]:
    """The rescored candidates' scores, then ``rest`` scores for the candidates below the depth:
    in their order, strictly below every rescored one."""
    floor = float(scores.min()) if len(scores) else 0.0
    return [float(v) for v in scores] + [floor - 1.0 - i for i in range(rest)]


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
    if topics is not None and table is not None:  # queries in the topics' order, as one process writes them
        position = {t.qid: i for i, t in enumerate(topics)}
        keyed = table.append_column("_t", pa.array([position[q] for q in table["qid"].to_pylist()]))
        table = keyed.take(pc.sort_indices(keyed, sort_keys=[("_t", "ascending")])).drop_columns(["_t"])
    return Run(table, "merged", tag or (runs[0].tag if runs else "merged"))
