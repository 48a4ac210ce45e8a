"""Checks a run must pass before anyone trusts its numbers.

Errors (exit 2): a docno twice in a query, NaN or infinite scores, topics with
empty text. Warnings: rank column disagreeing with the scores (trec_eval uses
the scores), ties straddling the cutoffs 10/100/1000 (the measure then depends
on docno order), queries missing against the qrels or topics, empty queries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..formats import Qrels, Run, Topic

CUTOFFS = (10, 100, 1000)
MAX_LISTED = 5


@dataclass
class Finding:
    severity: str  # "error" or "warning"
    where: str     # FILE or FILE:LINE
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


def _listed(items) -> str:
    items = list(items)
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(map(str, items[:MAX_LISTED])) + more


def counted(severity: str, where: str, items, what: str) -> list[Finding]:
    """One finding naming how many ``items`` there are and the first few; none when there are none."""
    items = list(items)
    return [Finding(severity, where, f"{len(items)} {what}: {_listed(items)}")] if items else []


def _where(run: Run, row: int) -> str:
    line = run.source.line(row) if run.source else None
    return f"{run.name}:{line}" if line else run.name


def validate_run(run: Run, qrels: Qrels | None = None, topics: list[Topic] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    t = run.table
    if len(t) == 0:
        return [Finding("error", run.name, "the run is empty")]
    finite = pc.is_finite(t["score"]).to_numpy(zero_copy_only=False)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        findings.append(Finding("error", _where(run, int(bad[0])),
                                f"{len(bad)} non-finite score(s) (NaN or inf), first for qid {t['qid'][int(bad[0])]}"))
    findings += _duplicates(run)
    ordered = t.append_column("_row", pa.array(np.arange(len(t))))
    ordered = ordered.take(pc.sort_indices(ordered, sort_keys=[("qid", "ascending"), ("score", "descending"),
                                                               ("docno", "descending")]))
    qid = ordered["qid"].to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
    pos = np.arange(len(qid)) - np.repeat(starts, np.diff(np.r_[starts, len(qid)]))
    findings += _rank_disagreement(run, ordered, qid, pos)
    findings += _straddling_ties(run, ordered, qid, pos)
    run_qids = set(qid[starts].tolist())
    if qrels is not None:
        judged = set(qrels.qids())
        missing, extra = sorted(judged - run_qids), sorted(run_qids - judged)
        if missing:
            findings.append(Finding("warning", run.name, f"{len(missing)} qrels queries have no results: "
                                                         f"{_listed(missing)} (they count only with eval -c)"))
        if extra:
            findings.append(Finding("warning", run.name, f"{len(extra)} queries are not in the qrels and are "
                                                         f"ignored by eval: {_listed(extra)}"))
    if topics is not None:
        findings += counted("warning", run.name, [tp.qid for tp in topics if tp.qid not in run_qids],
                            "topics have no results")
        findings += counted("warning", run.name, sorted(run_qids - {tp.qid for tp in topics}),
                            "queries are not among the topics")
    return findings


def _duplicates(run: Run) -> list[Finding]:
    from ..formats.table import first_duplicate

    row = first_duplicate(run.table, "qid", "docno")
    if row is None:
        return []
    n_pairs = len(run.table) - run.table.group_by(["qid", "docno"]).aggregate([]).num_rows
    return [Finding("error", _where(run, row), f"docno {run.table['docno'][row]} repeated for qid "
                                               f"{run.table['qid'][row]} ({n_pairs} repeated line(s) in all)")]


def _rank_disagreement(run: Run, ordered, qid: np.ndarray, pos: np.ndarray) -> list[Finding]:
    rank = ordered["rank"].to_numpy()
    same_q = np.r_[False, qid[1:] == qid[:-1]]
    bad = same_q & (rank <= np.r_[rank[0], rank[:-1]])
    if not bad.any():
        return []
    queries = sorted(set(qid[bad].tolist()))
    first = int(ordered["_row"][int(np.flatnonzero(bad)[0])].as_py())
    return [Finding("warning", _where(run, first),
                    f"rank column disagrees with the scores in {len(queries)} queries ({_listed(queries)}); "
                    f"trec_eval and llmrank order by score, ties by docno descending")]


def _straddling_ties(run: Run, ordered, qid: np.ndarray, pos: np.ndarray) -> list[Finding]:
    score = ordered["score"].to_numpy()
    out = []
    for k in CUTOFFS:
        at = np.flatnonzero((pos == k) & np.r_[False, qid[1:] == qid[:-1]])
        tied = at[score[at] == score[at - 1]]
        if len(tied):
            queries = qid[tied].tolist()
            out.append(Finding("warning", run.name, f"tied scores straddle cutoff {k} in {len(queries)} queries "
                                                    f"({_listed(queries)}): measures @{k} depend on docno order"))
    return out


def validate_topics(topics: list[Topic], name: str) -> list[Finding]:
    empty = [t.qid for t in topics if not t.text.strip()]
    return [Finding("error", name, f"{len(empty)} topics have empty text: {_listed(empty)}")] if empty else []
