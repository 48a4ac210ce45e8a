"""trec_eval's common measures, one query at a time in plain Python: a shell loop's small
``eval`` then costs about Python's own start, with no numpy or Arrow to load.

The rules and the sums are the vectorised engine's (engine.py, core_measures.py): trec_eval's
order (score descending, ties by docno descending), ``-M`` after ordering, queries in both files
(``-c``: every qrels query, missing ones 0, or under 10.0 scored on its stand-in ranking), labels as
gains, every sum taken rank by rank. A test holds both engines' printed lines equal on random files
and on TREC DL.
"""
from __future__ import annotations

import math
from bisect import bisect_left

from .measures import Measure
from .versions import STAND_IN_DOCNO

KINDS = ("P", "R", "AP", "RR", "Rprec", "Success", "nDCG", "NumRet", "NumRelRet", "NumRel", "NumQ")
_ALL = 1 << 62  # no cutoff


def computes(measures: list[Measure]) -> bool:
    """Whether every measure is one this engine computes: its kinds, with labels as gains."""
    return all(m.kind in KINDS and m.gains is None and m.trec_gains is None for m in measures)


class PlainEvaluation:
    """The engine's :class:`~.engine.Evaluation` in lists: ``values[m][q]``; ``totals``: the
    'all' values that are no sum or mean."""

    texts: dict = {}  # no text measures here

    def __init__(self, run_name: str, measures: list[Measure], qids: list[str], values: list[list[float]],
                 present: list[bool], unranked: int):
        self.run_name, self.measures, self.qids, self.values, self.present = run_name, measures, qids, values, present
        self.unranked = unranked
        self.totals: dict[str, float] = {}

    def aggregate(self) -> list[float]:
        out = []
        for m, v in zip(self.measures, self.values):
            total = 0.0
            for x in v:  # left to right, as trec_eval accumulates
                total += x
            out.append(self.totals.get(m.label, total if m.summed or not v else total / len(v)))
        return out


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def _dcg(gains, k: int) -> float:
    total = 0.0
    for i, g in enumerate(gains[:k]):
        if g > 0:
            total += g / math.log2(i + 2.0)
    return total


def _query(measures: list[Measure], labels: list[int | None], judged: list[int], rel_level: int) -> list[float]:
    """Each measure's value for one query: ``labels`` of the ranking (None: not in the qrels),
    ``judged`` the query's qrels labels; a measure's own ``rel`` overrides -l."""
    relevant: dict[int, tuple[list[int], int]] = {}  # level -> (ranks of relevant docs, their number judged)
    gains = ideal = None  # set at the first nDCG: the ranking's gains, the judged ones in the best order
    out = []
    for m in measures:
        level = rel_level if m.rel is None else m.rel
        if level not in relevant:
            relevant[level] = ([i for i, label in enumerate(labels) if label is not None and label >= level],
                               sum(label >= level for label in judged))
        hits, num_rel = relevant[level]
        k = _ALL if m.cutoff is None else m.cutoff
        found = bisect_left(hits, k)
        if m.kind == "P":  # ir_measures' P without a cutoff: over everything retrieved
            out.append(found / k if m.cutoff is not None else _div(found, len(labels)))
        elif m.kind == "R":
            out.append(_div(found, num_rel))
        elif m.kind == "AP":
            total = 0.0
            for j, i in enumerate(hits[:found]):
                total += (j + 1.0) / (i + 1.0)
            out.append(_div(total, num_rel))
        elif m.kind == "RR":
            out.append(1.0 / (hits[0] + 1.0) if found else 0.0)
        elif m.kind == "Rprec":
            out.append(_div(bisect_left(hits, num_rel), num_rel))
        elif m.kind == "Success":
            out.append(float(found > 0))
        elif m.kind == "nDCG":
            if gains is None:
                gains = [label if label is not None and label > 0 else 0 for label in labels]
                ideal = sorted((g for g in judged if g > 0), reverse=True)
            out.append(_div(_dcg(gains, k), _dcg(ideal, k)))
        else:
            out.append(float({"NumRet": len(labels), "NumRelRet": len(hits), "NumRel": num_rel, "NumQ": 1}[m.kind]))
    return out


def evaluate(qrels: dict[str, dict[str, int]], run: dict[str, list[tuple[float, str]]], name: str,
             measures: list[Measure], rel_level: int = 1, complete: bool = False,
             max_docs: int | None = None, stand_in: bool = False) -> PlainEvaluation:
    """One run (formats.plain's dicts) against the qrels, as engine.evaluate does it; ``stand_in``:
    -c scores a missing query on trec_eval 10.0's one-document stand-in ranking and prints it."""
    qids = sorted(qrels if complete else set(qrels) & set(run))
    values = [[] for _ in measures]
    for qid in qids:
        judged = qrels[qid]
        ranking = sorted(run.get(qid, [(1.0, STAND_IN_DOCNO)] if stand_in else ()), reverse=True)[:max_docs]
        for column, value in zip(values, _query(measures, [judged.get(d) for _, d in ranking],
                                                list(judged.values()), rel_level)):
            column.append(value)
    present = [qid in run for qid in qids]
    for m, column in zip(measures, values):  # -c: a query the run lacks scores 0 (num_q 1, num_rel its own)
        if m.kind == "NumRet" or m.kind != "NumRel" and not stand_in:  # 10.0 resets num_ret after its stand-in
            column[:] = [v if here else float(m.kind == "NumQ") for v, here in zip(column, present)]
    ev = PlainEvaluation(name, measures, qids, values, [True] * len(qids) if stand_in else present,
                         len(set(qrels) - set(run)))
    if complete:  # trec_eval -c sums num_rel over every qrels line with a positive label
        ev.totals.update({m.label: float(sum(label > 0 for judged in qrels.values() for label in judged.values()))
                          for m in measures if m.kind == "NumRel"})
    return ev
