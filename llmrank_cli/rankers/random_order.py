"""``random``: seeded random item orders, the floor every ranker, the prior included, must clear."""
from __future__ import annotations

import numpy as np

from . import register
from .base import ItemRanker


@register("random")
class RandomOrder(ItemRanker):
    seed = 0

    def fit_pool(self, data, train, seed, progress) -> None:
        self.seed = seed
        super().fit_pool(data, train, seed, progress)

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        return np.random.default_rng(self.seed).random((len(embeddings), len(self.items)))

    def manifest(self) -> dict:
        return {**super().manifest(), "random_seed": self.seed}

    def restore(self, manifest: dict) -> None:
        self.seed = manifest.get("random_seed", manifest.get("seed", 0))
