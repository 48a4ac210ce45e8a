"""Two-tower LLM rankers: a query tower over frozen sentence embeddings and an item tower over
a learned id embedding, scored by cosine similarity. One class; the track's variants are presets:

- ``two-tower-baseline``: query [384→256→128→64], item 64 → [64→128→64], margin ranking loss.
- ``two-tower-tier1``: query [384→256→192→128], item 128 → [128→192→128], InfoNCE with a
  temperature and hard-negative mining.
- ``two-tower-tier2``: three query heads [384→96→96] concatenated (288) → fusion
  [288→384→256→192→128], a head-diversity regulariser, and a curriculum that switches hard
  negatives on after epoch 2 (60% hard / 40% easy).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LlmrankError
from ..kit.mlp import mlp
from . import register
from .base import ItemRanker, LoopFields, setting

PRESETS = {
    "two-tower-baseline": dict(query_layers=[256, 128, 64], heads=1, head_layers=[], item_dim=64,
                               item_layers=[128, 64], loss="margin", margin=0.2, hard_negatives=False),
    "two-tower-tier1": dict(query_layers=[256, 192, 128], heads=1, head_layers=[], item_dim=128,
                            item_layers=[192, 128], loss="infonce", temperature=0.07, hard_negatives=True),
    "two-tower-tier2": dict(query_layers=[384, 256, 192, 128], heads=3, head_layers=[96, 96], item_dim=128,
                            item_layers=[192, 128], loss="infonce", temperature=0.07, hard_negatives=True,
                            curriculum_epoch=2, hard_fraction=0.6, diversity=0.1),
}


@dataclass
class TwoTowerSettings(LoopFields):
    query_layers: list = setting([256, 128, 64], "Query tower layer sizes after the input (comma-separated).")
    heads: int = setting(1, "Query heads before the query tower (tier2: 3).", min=1)
    head_layers: list = setting([], "Layer sizes of each query head (comma-separated).")
    item_dim: int = setting(64, "Learned item id embedding size.", min=1)
    item_layers: list = setting([128, 64], "Item tower layer sizes (comma-separated).")
    loss: str = setting("margin", "margin (sampled pairs) or infonce.", choices=("margin", "infonce"))
    margin: float = setting(0.2, "Margin of the margin ranking loss.")
    temperature: float = setting(0.07, "InfoNCE temperature.", min=1e-6)
    hard_negatives: bool = setting(False, "Mine hard negatives for InfoNCE.")
    n_hard: int = setting(8, "Negatives per query when mining.", min=1)
    curriculum_epoch: int = setting(0, "Epoch from which hard negatives are mined.", min=0)
    hard_fraction: float = setting(1.0, "Share of mined negatives that are hard (the rest random).", min=0.0)
    diversity: float = setting(0.0, "Weight of the head-diversity regulariser.", min=0.0)
    dropout: float = setting(0.1, "Dropout between tower layers.", min=0.0)
    epochs: int = setting(30, "Training epochs.", min=1)


def build_network(cfg, input_dim: int, n_items: int):
    import torch
    import torch.nn as nn

    class TwoTower(nn.Module):
        def __init__(self):
            super().__init__()
            if cfg.heads > 1:
                self.heads = nn.ModuleList(mlp([input_dim] + cfg.head_layers, cfg.dropout)
                                           for _ in range(cfg.heads))
                fused = cfg.heads * cfg.head_layers[-1]
                self.query = mlp([fused] + cfg.query_layers, cfg.dropout)
            else:
                self.heads = None
                self.query = mlp([input_dim] + cfg.query_layers, cfg.dropout)
            self.item_embedding = nn.Embedding(n_items, cfg.item_dim)
            self.item = mlp([cfg.item_dim] + cfg.item_layers, cfg.dropout)

        def forward(self, x):
            """(cosine scores [batch, items], head outputs or None)."""
            head_out = None
            if self.heads is not None:
                head_out = [h(x) for h in self.heads]
                x = torch.cat(head_out, dim=-1)
            q = nn.functional.normalize(self.query(x), dim=-1)
            items = nn.functional.normalize(self.item(self.item_embedding.weight), dim=-1)
            return q @ items.T, head_out

    return TwoTower()


@register("two-tower-tier2", aliases=("tier2",), preset=PRESETS["two-tower-tier2"])
@register("two-tower-tier1", aliases=("tier1",), preset=PRESETS["two-tower-tier1"])
@register("two-tower-baseline", aliases=("baseline",), preset=PRESETS["two-tower-baseline"])
class TwoTower(ItemRanker):
    Settings = TwoTowerSettings
    net = None

    def fit_pool(self, data, train: np.ndarray, seed: int, progress) -> None:
        import torch

        from ..kit.devices import place
        from ..training.loop import seeded, train_epochs
        from ..training.losses import LOSSES, head_diversity

        s = self.settings
        device, dtype = place(self.runtime)
        generator = seeded(seed)  # before the network: its initial weights come from the seed
        self.net = build_network(s, self.input_dim, len(self.items)).to(device)
        gains = data.gains[train]
        keep = gains.max(axis=1) > 0  # queries without any positive item carry no ranking signal
        x = torch.as_tensor(data.embeddings[train][keep], dtype=torch.float32, device=device)
        g = torch.as_tensor(gains[keep], dtype=torch.float32, device=device)
        if len(x) == 0:
            raise LlmrankError("no training query has a positive label")

        def loss(idx, epoch):
            scores, head_out = self.net(x[idx.to(device)])
            value = LOSSES[s.loss](scores, g[idx.to(device)], s, epoch, generator)
            return value + s.diversity * head_diversity(head_out) if s.diversity else value

        train_epochs(self.net, self.net.parameters(), len(x), loss, s, generator, device, dtype,
                     progress, self.watch)
        self.net.cpu()

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        import torch

        self.net.eval()
        with torch.inference_mode():
            scores, _ = self.net(torch.as_tensor(embeddings, dtype=torch.float32))
        return scores.double().numpy()

    def save_weights(self, directory) -> None:
        import torch

        torch.save(self.net.state_dict(), directory / "model.pt")

    def load_weights(self, directory) -> None:
        import torch

        self.net = build_network(self.settings, self.input_dim, len(self.items))
        self.net.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        self.net.eval()
