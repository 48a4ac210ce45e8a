"""``shrunk-prior``: each item's mean gain on the training queries, shrunk toward the mean of
all items by ``pseudo_queries`` imaginary queries (an item judged on few queries stays near
the average). The README's "Adding a ranker" example: this file is all it takes."""
from dataclasses import dataclass

import numpy as np

from llmrank_cli.rankers import register
from llmrank_cli.rankers.base import ItemRanker, Settings, setting


@dataclass
class ShrunkPriorSettings(Settings):
    pseudo_queries: float = setting(10.0, "Weight of the all-items mean, in queries.", min=0.0)


@register("shrunk-prior")
class ShrunkPrior(ItemRanker):
    Settings = ShrunkPriorSettings
    means = np.zeros(0)

    def fit_pool(self, data, train, seed, progress):
        gains, k = data.gains[train], self.settings.pseudo_queries
        self.means = (gains.sum(axis=0) + k * gains.mean()) / (len(gains) + k)
        super().fit_pool(data, train, seed, progress)

    def score_pool(self, embeddings, texts):
        return np.tile(self.means, (len(texts), 1)).astype(np.float64)

    def save_weights(self, directory):
        np.save(directory / "means.npy", self.means)

    def load_weights(self, directory):
        self.means = np.load(directory / "means.npy")
