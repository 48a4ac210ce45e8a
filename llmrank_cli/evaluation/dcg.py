"""DCG and nDCG@k on arrays rather than runs: for the choices made inside training (LightGBM's
early stop, ICR's head selection), where building a run for the engine per candidate would cost
more than the training step. The discount is trec_eval's (log2 of rank + 1), gains as given."""
from __future__ import annotations

import numpy as np


def dcg(ranked_gains, k: int = 10) -> np.ndarray:
    """DCG@k of gains already in rank order, along the last axis (one value per row)."""
    g = np.asarray(ranked_gains, dtype=np.float64)[..., :k]
    return (g / np.log2(np.arange(2, g.shape[-1] + 2))).sum(axis=-1)


def ideal_dcg(gains, k: int = 10) -> np.ndarray:
    """DCG@k of the best order of ``gains`` (last axis)."""
    return dcg(-np.sort(-np.asarray(gains, dtype=np.float64), axis=-1), k)


def mean_ndcg(scores: np.ndarray, gains: np.ndarray, k: int = 10) -> float:
    """Mean nDCG@k over queries (rows) ranked by ``scores``, ties in row order; a query with no
    gain counts 0, as trec_eval counts it."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    found, ideal = dcg(np.take_along_axis(gains, order, axis=1), k), ideal_dcg(gains, k)
    return float(np.where(ideal > 0, found / np.where(ideal > 0, ideal, 1), 0).mean())
