"""Features of (query, LLM) pairs computed from a pool of labelled queries, for the ``ltr``
ranker: what the field found to matter (per-LLM statistics first, then the query's
neighbourhood). Every feature of a query is computed from pool queries other than itself, so a
model trained on them never reads its own label.

Groups (``--drop`` leaves groups out, for ablations):
- ``prior``: the LLM's mean gain on the pool; its id (a categorical feature).
- ``category``: its mean gain on the pool queries of the query's category, shrunk towards the
  prior (the category given, else the most common one among the query's 10 nearest pool queries).
- ``knn``: its similarity-weighted mean gain on the query's k nearest pool queries, at several k
  (``neighbours.py``), and the neighbourhood's mean gain over all LLMs (how hard such queries are).
- ``linear``: a ridge regression of the LLM's gain on the query embedding (and category), fitted
  on the pool: the linear router.
- ``query``: the query text's length in characters and its share of digits (how the query
  looks, which trees can cross with the LLM id).
- ``response``: per response feature (``discovery.FEATURES``: answered, substantive, length,
  token log-probs), the LLM's mean over all pool or discovery responses and over those to the
  query's nearest neighbours.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import neighbours
from .discovery import FEATURES

GROUPS = ("prior", "category", "knn", "linear", "query", "response")
CATEGORY_NEIGHBOURS = 10
MEAN_ROWS = 1024  # responders per step of the per-LLM response means


@dataclass
class Pool:
    """The labelled queries features are computed from, and the response evidence beside them."""

    embeddings: np.ndarray                    # [pool, dim]
    gains: np.ndarray                         # [pool, items]
    categories: np.ndarray | None = None      # [pool] str
    response_embeddings: np.ndarray | None = None  # [responders, dim]: pool and/or discovery queries
    responses: np.ndarray | None = None       # [responders, items, features], NaN = no response

    @classmethod
    def of(cls, data, idx: np.ndarray, discovery: tuple | None = None) -> "Pool":
        """The data directory's queries ``idx``; their own responses (``response_features.npy``)
        and ``discovery`` ((embeddings, features) of discovery queries) as response evidence."""
        parts = []
        if data.response_features is not None:
            parts.append((data.embeddings[idx], data.response_features[idx]))
        if discovery is not None:
            parts.append(discovery)
        if len(parts) > 1:
            parts = [(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))]
        emb, feats = parts[0] if parts else (None, None)  # one part is shared, not copied: 2025's is 340 MB
        return cls(data.embeddings[idx], data.gains[idx],
                   data.categories[idx] if data.categories is not None else None, emb, feats)

    def arrays(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None and not k.startswith("_")}

    def response_means(self) -> tuple[list[int], np.ndarray]:
        """(response features the pool has values of, their mean per LLM [items, kept]), computed
        once: at 2025's size that mean reads 85M values."""
        if "_means" not in self.__dict__:
            keep = _response_columns(self)
            total = np.zeros((self.responses.shape[1], len(keep)))
            count = np.zeros_like(total)
            for start in range(0, len(self.responses), MEAN_ROWS):  # nanmean would copy it all, twice
                part = kept_columns(self.responses[start:start + MEAN_ROWS], keep)
                known = ~np.isnan(part)
                total += np.where(known, part, 0.0).sum(axis=0)
                count += known.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):  # LLMs with no response: NaN, which LightGBM handles
                self._means = keep, (total / count).astype(np.float32)
        return self._means

    def ridge_weights(self, ridge: float) -> np.ndarray:
        """[items, columns]: ridge weights from the pool's design matrix to its gains (closed
        form), computed once per penalty."""
        cache = self.__dict__.setdefault("_ridge", {})
        if ridge not in cache:
            x = _design(self.embeddings, self.categories, self.categories)
            cache[ridge] = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]),
                                           x.T @ self.gains.astype(np.float64)).T
        return cache[ridge]


def names(pool: Pool, knn_k: list[int], drop: set[str]) -> list[str]:
    """The feature columns :func:`features` makes for this pool, in order."""
    out = ["llm", "prior"] if "prior" not in drop else []
    if "category" not in drop and pool.categories is not None:
        out += ["category_prior"]
    if "knn" not in drop:
        out += [f"knn@{k}" for k in knn_k] + ["neighbourhood_mean"]
    if "linear" not in drop:
        out += ["linear"]
    if "query" not in drop:
        out += ["query_length", "query_digits"]
    if "response" not in drop and pool.responses is not None:
        for n in _response_columns(pool):
            out += [f"{FEATURES[n]}_mean", f"{FEATURES[n]}_knn"]
    return out


def kept_columns(values: np.ndarray, keep: list[int]) -> np.ndarray:
    """``values[..., keep]``, a view where ``keep`` is a run of columns (the usual case)."""
    if keep and keep == list(range(keep[0], keep[-1] + 1)):
        return values[..., keep[0]:keep[-1] + 1]
    return values[..., keep]


def _response_columns(pool: Pool) -> list[int]:
    """Response features the pool has any value of (no log-probs without a metadata file)."""
    return [n for n in range(len(FEATURES)) if not np.isnan(pool.responses[:, :, n]).all()]


def features(pool: Pool, embeddings: np.ndarray, texts: list[str], categories: np.ndarray | None,
             knn_k: list[int], temperature: float, shrink: float, category_shrink: float, ridge: float,
             response_k: int, drop: set[str]) -> np.ndarray:
    """float32 [queries, items, features] for queries outside the pool, columns as :func:`names`."""
    n, items = len(embeddings), pool.gains.shape[1]
    prior = pool.gains.mean(axis=0).astype(np.float64)
    columns = []
    if "prior" not in drop:
        columns += [np.broadcast_to(np.arange(items, dtype=np.float64), (n, items)), np.broadcast_to(prior, (n, items))]
    idx, sims = neighbours.nearest(embeddings, pool.embeddings, max([CATEGORY_NEIGHBOURS, *knn_k]))
    if pool.categories is not None and categories is None:  # queries given as text alone
        categories = np.array([Counter(pool.categories[row[:CATEGORY_NEIGHBOURS]]).most_common(1)[0][0]
                               for row in idx])
    if "category" not in drop and pool.categories is not None:
        columns.append(_category_prior(pool, prior, categories, category_shrink))
    if "knn" not in drop:
        w = neighbours.weights(sims, temperature)
        for k in knn_k:
            columns.append(neighbours.weighted_mean(pool.gains, idx[:, :k], w[:, :k], prior, shrink))
        columns.append(np.broadcast_to(columns[-1].mean(axis=1, keepdims=True), (n, items)))
    if "linear" not in drop:
        columns.append(_design(embeddings, categories, pool.categories) @ pool.ridge_weights(ridge).T)
    if "query" not in drop:
        length = np.array([len(t) for t in texts], dtype=np.float64)
        digits = np.array([sum(c.isdigit() for c in t) for t in texts], dtype=np.float64) / np.maximum(length, 1)
        columns += [np.broadcast_to(np.log1p(length)[:, None], (n, items)), np.broadcast_to(digits[:, None], (n, items))]
    if "response" not in drop and pool.responses is not None:
        keep, overall = pool.response_means()
        values = kept_columns(pool.responses, keep)
        r_idx, r_sims = neighbours.nearest(embeddings, pool.response_embeddings, response_k)
        near = neighbours.weighted_mean(values, r_idx, neighbours.weights(r_sims, temperature), overall, shrink)
        for j in range(len(keep)):
            columns += [np.broadcast_to(overall[:, j], (n, items)), near[:, :, j]]
    return np.stack(columns, axis=-1).astype(np.float32) if columns else np.zeros((n, items, 0), np.float32)


def _design(embeddings: np.ndarray, categories: np.ndarray | None, known: np.ndarray | None) -> np.ndarray:
    """[queries, dim + 1 (+ categories)]: the embedding, a bias, one-hot categories of the pool's."""
    parts = [embeddings.astype(np.float64), np.ones((len(embeddings), 1))]
    if known is not None:
        parts.append((categories[:, None] == np.unique(known)[None, :]).astype(np.float64))
    return np.concatenate(parts, axis=1)


def _category_prior(pool: Pool, prior: np.ndarray, categories: np.ndarray, shrink: float) -> np.ndarray:
    out = np.empty((len(categories), len(prior)), dtype=np.float64)
    for category in np.unique(categories):
        members = pool.categories == category
        out[categories == category] = (pool.gains[members].sum(axis=0) + shrink * prior) / (members.sum() + shrink)
    return out
