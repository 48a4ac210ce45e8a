"""Nearest queries by cosine on the cached query embeddings, and similarity-weighted means over
them: the kNN router (``rankers/knn.py``) and the neighbourhood features of ``ltr``.

A neighbour ``j`` of query ``q`` weighs ``w = exp((cos(q, j) - 1) / T)``: at most 1 (an identical
query), so ``sum(w)`` counts neighbours and a pseudo-count ``m`` of the prior is in the same unit:
``score = (sum(w * value) + m * prior) / (sum(w) + m)``. ``T -> inf`` gives every neighbour weight
1 (with all queries as neighbours: the prior), ``m -> inf`` the prior itself.
"""
from __future__ import annotations

import numpy as np

BLOCK = 2048  # query rows per similarity block: memory stays at BLOCK x pool floats
PICKED_VALUES = 2**22  # neighbours' values gathered at once by weighted_mean (32 MiB as float64, a few such temporaries)


def nearest(queries: np.ndarray, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosines), both [queries, k'], of each query's ``k`` most similar pool rows, most
    similar first (k' = min(k, pool); ``k`` 0 means all). Ties go to the lower pool row."""
    k = len(pool) if k <= 0 else min(k, len(pool))
    idx = np.zeros((len(queries), k), dtype=np.int64)
    sims = np.zeros((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), BLOCK):
        block = queries[start:start + BLOCK] @ pool.T
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < len(pool) else \
            np.broadcast_to(np.arange(len(pool)), block.shape)
        part = np.take_along_axis(block, top, axis=1)
        order = np.lexsort((top, -part), axis=1)
        idx[start:start + BLOCK] = np.take_along_axis(top, order, axis=1)
        sims[start:start + BLOCK] = np.take_along_axis(part, order, axis=1)
    return idx, sims


def weights(sims: np.ndarray, temperature: float) -> np.ndarray:
    """Each neighbour's weight, exp((cos - 1) / T); T = inf gives 1."""
    if np.isinf(temperature):
        return np.ones_like(sims, dtype=np.float64)
    return np.exp((sims.astype(np.float64) - 1.0) / temperature)


def weighted_mean(values: np.ndarray, idx: np.ndarray, w: np.ndarray, prior: np.ndarray,
                  shrink: float) -> np.ndarray:
    """float64 [queries, items(, ...)]: per query the ``w``-weighted mean of its neighbours'
    ``values`` rows ([pool, items(, ...)], NaN = no value: left out of both sums), shrunk towards
    ``prior`` by ``shrink`` pseudo-neighbours; where a query has neither, the prior."""
    out = np.zeros((len(idx), *values.shape[1:]), dtype=np.float64)
    block = max(1, PICKED_VALUES // max(1, idx.shape[1] * int(np.prod(values.shape[1:]))))
    for start in range(0, len(idx), block):
        picked = values[idx[start:start + block]].astype(np.float64)  # [block, k, items(, ...)]
        wb = w[start:start + block].reshape(*w[start:start + block].shape, *([1] * (values.ndim - 1)))
        known = ~np.isnan(picked)
        total = (np.where(known, picked, 0.0) * wb).sum(axis=1) + shrink * prior
        weight = (known * wb).sum(axis=1) + shrink
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + block] = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), prior)
    return out
