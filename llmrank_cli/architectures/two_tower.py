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

import json
from pathlib import Path

import numpy as np

from . import register

PRESETS = {
    "two-tower-baseline": dict(query_layers=[256, 128, 64], heads=1, head_layers=[], item_dim=64,
                               item_layers=[128, 64], loss="margin", margin=0.2, hard_negatives=False),
    "two-tower-tier1": dict(query_layers=[256, 192, 128], heads=1, head_layers=[], item_dim=128,
                            item_layers=[192, 128], loss="infonce", temperature=0.07, hard_negatives=True),
    "two-tower-tier2": dict(query_layers=[384, 256, 192, 128], heads=3, head_layers=[96, 96], item_dim=128,
                            item_layers=[192, 128], loss="infonce", temperature=0.07, hard_negatives=True,
                            curriculum_epoch=2, hard_fraction=0.6, diversity=0.1),
}
COMMON = dict(dropout=0.1, epochs=30, batch_size=64, lr=1e-3, weight_decay=0.01, optimizer="adamw",
              n_hard=8, temperature=0.07, margin=0.2, curriculum_epoch=0, hard_fraction=1.0, diversity=0.0)


def _mlp(sizes: list[int], dropout: float):
    import torch.nn as nn

    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def build_network(cfg: dict, input_dim: int, n_items: int):
    import torch
    import torch.nn as nn

    class TwoTower(nn.Module):
        def __init__(self):
            super().__init__()
            if cfg["heads"] > 1:
                self.heads = nn.ModuleList(_mlp([input_dim] + cfg["head_layers"], cfg["dropout"])
                                           for _ in range(cfg["heads"]))
                fused = cfg["heads"] * cfg["head_layers"][-1]
                self.query = _mlp([fused] + cfg["query_layers"], cfg["dropout"])
            else:
                self.heads = None
                self.query = _mlp([input_dim] + cfg["query_layers"], cfg["dropout"])
            self.item_embedding = nn.Embedding(n_items, cfg["item_dim"])
            self.item = _mlp([cfg["item_dim"]] + cfg["item_layers"], cfg["dropout"])

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


@register(*PRESETS)
class TwoTower:
    def __init__(self, name: str, **overrides):
        self.name = name
        self.cfg = {**COMMON, **PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
        self.items: list[str] = []
        self.net = None

    def config(self) -> dict:
        return dict(self.cfg)

    def fit(self, data, train: np.ndarray, seed: int = 0, progress=None) -> "TwoTower":
        from ..training.items import train_scorer

        self.items = list(data.items)
        self.net = build_network(self.cfg, data.embeddings.shape[1], len(self.items))
        train_scorer(self.net, data.embeddings[train], data.gains[train], self.cfg, seed, progress)
        return self

    def score(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        import torch

        self.net.eval()
        with torch.inference_mode():
            scores, _ = self.net(torch.as_tensor(embeddings, dtype=torch.float32))
        return scores.double().numpy()

    def save(self, directory: Path, manifest: dict) -> None:
        import torch

        torch.save(self.net.state_dict(), directory / "model.pt")
        (directory / "model.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, directory: str, meta: dict) -> "TwoTower":
        import torch

        model = cls(meta["architecture"], **meta["config"])
        model.items = meta["items"]
        model.net = build_network(model.cfg, meta["input_dim"], len(model.items))
        model.net.load_state_dict(torch.load(Path(directory) / "model.pt", weights_only=True))
        return model
