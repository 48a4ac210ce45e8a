"""The baseline every query-aware model must beat: items by mean gain on training queries."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import register


@register("prior")
class Prior:
    def __init__(self, name: str = "prior", **_):
        self.name, self.items, self.means = name, [], np.zeros(0)

    def fit(self, data, train: np.ndarray, seed: int = 0, progress=None) -> "Prior":
        self.items, self.means = list(data.items), data.gains[train].mean(axis=0)
        if progress:
            progress.advance(1)
        return self

    def score(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        return np.broadcast_to(self.means, (len(embeddings), len(self.means))).astype(np.float64)

    def config(self) -> dict:
        return {}

    def save(self, directory: Path, manifest: dict) -> None:
        np.save(directory / "prior.npy", self.means)
        (directory / "model.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, directory: str, meta: dict) -> "Prior":
        model = cls()
        model.items, model.means = meta["items"], np.load(Path(directory) / "prior.npy")
        return model
