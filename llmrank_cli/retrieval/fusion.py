"""Rank fusion of several runs: reciprocal rank fusion, CombSUM, CombMNZ.

Each run is first put in trec_eval's order, so rank-based fusion uses the same
ranks an evaluator would; score-based fusion normalises scores per query.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..formats import Run

METHODS = ("rrf", "combsum", "combmnz")
NORMS = ("none", "minmax", "zscore")


def _normalised(table: pa.Table, norm: str) -> np.ndarray:
    score = table["score"].to_numpy()
    if norm == "none":
        return score
    stats = table.group_by("qid").aggregate([("score", "min"), ("score", "max"), ("score", "mean"),
                                              ("score", "stddev")])
    idx = pc.index_in(table["qid"], value_set=stats["qid"]).to_numpy()
    if norm == "minmax":
        lo, hi = stats["score_min"].to_numpy()[idx], stats["score_max"].to_numpy()[idx]
        span = hi - lo
        return np.where(span > 0, (score - lo) / np.where(span > 0, span, 1), 1.0)
    mean, std = stats["score_mean"].to_numpy()[idx], stats["score_stddev"].to_numpy()[idx]
    return np.where(std > 0, (score - mean) / np.where(std > 0, std, 1), 0.0)


def fuse(runs: list[Run], method: str = "rrf", rrf_k: int = 60, norm: str = "minmax",
         depth: int | None = None, tag: str = "fused") -> Run:
    parts = []
    for run in runs:
        table = run.output_order()
        if depth is not None:
            table = table.filter(pc.less_equal(table["rank"], depth))
        if method == "rrf":
            contribution = 1.0 / (rrf_k + table["rank"].to_numpy().astype(np.float64))
        else:
            contribution = _normalised(table, norm)
        parts.append(pa.table({"qid": table["qid"], "docno": table["docno"], "c": contribution}))
    combined = pa.concat_tables(parts).group_by(["qid", "docno"]).aggregate([("c", "sum"), ("c", "count")])
    score = combined["c_sum"].to_numpy()
    if method == "combmnz":
        score = score * combined["c_count"].to_numpy()
    return Run.from_columns(combined["qid"], combined["docno"], score, tag=tag, name=f"{method} fusion")
