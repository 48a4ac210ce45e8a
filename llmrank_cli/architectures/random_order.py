"""Random item orders (seeded): the floor every ranker, the prior included, must clear."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import register


@register("random")
class RandomOrder:
    def __init__(self, name: str = "random", **_):
        self.name, self.items, self.seed = name, [], 0

    def fit(self, data, train: np.ndarray, seed: int = 0, progress=None) -> "RandomOrder":
        self.items, self.seed = list(data.items), seed
        if progress:
            progress.advance(1)
        return self

    def score(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        return np.random.default_rng(self.seed).random((len(embeddings), len(self.items)))

    def config(self) -> dict:
        return {}

    def save(self, directory: Path, manifest: dict) -> None:
        (directory / "model.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, directory: str, meta: dict) -> "RandomOrder":
        model = cls()
        model.items, model.seed = meta["items"], meta["seed"]
        return model
