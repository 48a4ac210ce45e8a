"""``knn``: the router learned routers struggle to beat. LLM ``l``'s score for query ``q`` is the
similarity-weighted mean gain of ``l`` on the ``k`` training queries nearest ``q`` (cosine on the
data directory's query embeddings), shrunk towards the prior by ``shrink`` pseudo-queries
(``datasets/neighbours.py`` has the weights). With discovery data, ``discovery_weight`` adds the
nearest discovery queries as neighbours whose "gain" is whether ``l`` answered them
substantively: the weak labels of a set without labelled queries."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import register
from .base import ItemRanker, Settings, setting
from ..datasets import neighbours


@dataclass
class KnnSettings(Settings):
    k: int = setting(100, "Nearest training queries per query; 0 = all.", min=0)
    temperature: float = setting(0.05, "Similarity temperature T: a neighbour weighs exp((cos - 1) / T).", min=1e-6)
    shrink: float = setting(2.0, "Pseudo-queries of the prior added to each neighbourhood.", min=0.0)
    discovery_weight: float = setting(0.0, "Weight of discovery neighbours (substantive answers as gains); "
                                           "0 = labelled queries only.", min=0.0)


@register("knn")
class Knn(ItemRanker):
    Settings = KnnSettings
    pool = np.zeros((0, 0), dtype=np.float32)       # training queries' embeddings
    gains = np.zeros((0, 0), dtype=np.float32)      # their gains [pool, items]
    prior = np.zeros(0)
    discovery = np.zeros((0, 0), dtype=np.float32)  # discovery queries' embeddings
    flags = np.zeros((0, 0), dtype=np.float32)      # their substantive flags [discovery, items], NaN = none

    def fit_pool(self, data, train, seed, progress) -> None:
        self.pool, self.gains = data.embeddings[train], data.gains[train]
        self.prior = self.gains.mean(axis=0).astype(np.float64)
        if self.settings.discovery_weight > 0:
            from ..errors import LlmrankError

            if not (data.path / "discovery.npz").exists():
                raise LlmrankError(f"{data.path}: --discovery-weight needs discovery data (prepare mllm --discovery)")
            stored = np.load(data.path / "discovery.npz")
            self.discovery, self.flags = stored["embeddings"], stored["flags"]
        super().fit_pool(data, train, seed, progress)

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        s = self.settings
        idx, sims = neighbours.nearest(embeddings, self.pool, s.k)
        w = neighbours.weights(sims, s.temperature)
        if not len(self.discovery):
            return neighbours.weighted_mean(self.gains, idx, w, self.prior, s.shrink)
        d_idx, d_sims = neighbours.nearest(embeddings, self.discovery, s.k)
        values = np.concatenate([self.gains, self.flags])
        return neighbours.weighted_mean(values, np.concatenate([idx, d_idx + len(self.gains)], axis=1),
                                        np.concatenate([w, s.discovery_weight * neighbours.weights(d_sims, s.temperature)],
                                                       axis=1), self.prior, s.shrink)

    def save_weights(self, directory) -> None:
        np.savez(directory / "knn.npz", pool=self.pool, gains=self.gains, discovery=self.discovery, flags=self.flags)

    def load_weights(self, directory) -> None:
        stored = np.load(directory / "knn.npz")
        self.pool, self.gains, self.discovery, self.flags = (stored[n] for n in ("pool", "gains", "discovery", "flags"))
        self.prior = self.gains.mean(axis=0).astype(np.float64)
