"""A run checked as TREC Million LLMs takes it (since the track's submission update of
2025-07-07: the classic 6-column TREC run, at most 5 runs per team): every topic ranks every LLM
of the pool exactly once, ranks 1..N in non-increasing score order, topic ids the track knows,
one run tag per file and no tag used by two files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LlmrankError
from ..formats import Run, Topic
from .validation import Finding, _listed, counted

MAX_RUNS = 5  # per team


def read_pool(path: str) -> list[str]:
    """The LLM ids of a pool: a file with one id per line (the track's LLM list), or a data
    directory from `prepare mllm|items` (its items.txt)."""
    source = Path(path)
    if source.is_dir():
        source = source / "items.txt"
    try:
        ids = source.read_text().split()
    except OSError:
        raise LlmrankError(f"{path}: neither a file of LLM ids nor a data directory with items.txt") from None
    if not ids:
        raise LlmrankError(f"{source}: no LLM ids")
    return ids


def validate_pool(run: Run, pool: list[str], topics: list[Topic] | None = None,
                  tags: list[str] | None = None) -> list[Finding]:
    """Errors of one run against the pool (and the topics, and ``tags``: every tag its file
    names): each names how many queries are affected and the first few."""
    findings, t, known = [], run.table, set(pool)
    qid, docno = t["qid"].to_pylist(), t["docno"].to_pylist()
    per_query: dict[str, list[str]] = {}
    for q, d in zip(qid, docno):
        per_query.setdefault(q, []).append(d)
    findings += counted("error", run.name, sorted({d for d in docno if d not in known}), "LLM ids are not in the pool")
    ids = {tp.qid for tp in topics} if topics is not None else set(per_query)
    short = sorted(q for q, ds in per_query.items() if q in ids and len(known - set(ds)))  # not a topic: said below
    if short:
        first = short[0]
        missing = sorted(known - set(per_query[first]))
        findings.append(Finding("error", run.name, f"{len(short)} queries do not rank every LLM of the pool "
                                                   f"({len(pool)}): {_listed(short)}; {first} lacks {len(missing)}: "
                                                   f"{_listed(missing)}"))
    if tags is not None and len(tags) > 1:
        findings.append(Finding("error", run.name, f"{len(tags)} run tags in one file ({_listed(tags)}): "
                                                   f"a file is one run"))
    whole = {q for q, ds in per_query.items() if q in ids and len(ds) == len(set(ds)) == len(known)
             and set(ds) == known}
    findings += _ranks(run, whole)  # a query that lacks or repeats LLMs is reported once, above
    if topics is not None:
        findings += counted("error", run.name, sorted(set(per_query) - ids), "queries are not track topics")
        findings += counted("error", run.name, [tp.qid for tp in topics if tp.qid not in per_query],
                            "topics have no ranking")
    return findings


def _ranks(run: Run, queries: set) -> list[Finding]:
    """Ranks 1..N by non-increasing score in each of ``queries``."""
    t = run.table
    qid = t["qid"].to_numpy(zero_copy_only=False)
    keep = np.isin(qid, list(queries))
    qid, rank, score = qid[keep], t["rank"].to_numpy()[keep], t["score"].to_numpy()[keep]
    if not len(qid):
        return []
    order = np.lexsort((rank, qid))
    qid, rank, score = qid[order], rank[order], score[order]
    starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
    expected = np.arange(len(qid)) - np.repeat(starts, np.diff(np.r_[starts, len(qid)])) + 1
    bad_rank = sorted(set(qid[rank != expected].tolist()))
    same = np.r_[False, qid[1:] == qid[:-1]]
    rising = sorted(set(qid[same & (score > np.r_[score[0], score[:-1]])].tolist()) - set(bad_rank))
    return counted("error", run.name, bad_rank, "queries do not rank 1..N") + \
        counted("error", run.name, rising, "queries have a score above the one ranked before it")


def validate_submission_set(tags_of: dict[str, list[str]]) -> list[Finding]:
    """Errors of several files submitted together (``tags_of``: file -> its run tags): more than
    the track's runs per team, one run tag used by two files."""
    findings, names = [], list(tags_of)
    if len(names) > MAX_RUNS:
        findings.append(Finding("error", names[MAX_RUNS], f"{len(names)} runs: a team submits at most {MAX_RUNS}"))
    seen: dict[str, str] = {}
    for name, tags in tags_of.items():
        for tag in tags:
            if tag in seen:
                findings.append(Finding("error", name, f"run tag {tag} is also {seen[tag]}'s"))
            seen.setdefault(tag, name)
    return findings
