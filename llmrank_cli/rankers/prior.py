"""``prior``: items by mean gain on the training queries, the same order for every query. The
baseline every query-aware ranker must beat."""
from __future__ import annotations

import numpy as np

from . import register
from .base import ItemRanker


@register("prior")
class Prior(ItemRanker):
    means = np.zeros(0)

    def fit_pool(self, data, train, seed, progress) -> None:
        self.means = data.gains[train].mean(axis=0)
        super().fit_pool(data, train, seed, progress)

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        return np.broadcast_to(self.means, (len(embeddings), len(self.means))).astype(np.float64)

    def save_weights(self, directory) -> None:
        np.save(directory / "prior.npy", self.means)

    def load_weights(self, directory) -> None:
        self.means = np.load(directory / "prior.npy")
