"""``routehead``: which attention heads ICR should sum, chosen per query (RouteHead, arXiv
2604.24608): useful heads differ by query, and summing all of them adds redundant or
conflicting signal. A light router maps the frozen LM's state of the query to a head set; only
those heads are summed. Trained on cached per-head scores (`prepare heads`), no LM needed.

Where the seed is silent (README "RouteHead"): pseudo labels are each training query's greedy
forward selection of at most ``--max-heads`` heads maximising its nDCG@10; the router is
Linear(hidden -> 64) + ReLU = g(q) against learned head embeddings E: p = sigmoid(E g(q) + b),
trained with BCE(p, labels) + 0.01 mean(p); a query's score sums p_h S[d, h] over its top
``--max-heads`` heads. ``--static`` is the QRHead-like baseline: the heads with the best mean
training nDCG@10 alone, the same for every query.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.heads import HeadsData
from ..errors import LlmrankError
from . import register
from .base import LoopFields, Ranker, Runtime, setting


@dataclass
class RouteHeadSettings(LoopFields):
    max_heads: int = setting(8, "Heads a query's score sums (and the most a pseudo label holds).", min=1)
    static: bool = setting(False, "The baseline: the --max-heads heads of best mean training nDCG@10, for all.")
    width: int = setting(64, "Router width (query state -> width, head embeddings of this size).", min=1)
    sparsity: float = setting(0.01, "Weight of mean(p), the sparsity regulariser.", min=0.0)
    epochs: int = setting(300, "Training epochs.", min=1)
    lr: float = setting(0.01, "Learning rate.", min=0.0)


def build_router(hidden: int, n_heads: int, width: int):
    import torch
    import torch.nn as nn

    class Router(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Sequential(nn.Linear(hidden, width), nn.ReLU())
            self.heads = nn.Parameter(torch.randn(n_heads, width) / width ** 0.5)
            self.bias = nn.Parameter(torch.zeros(n_heads))

        def forward(self, states):
            """Logits [queries, heads]."""
            return self.query(states) @ self.heads.T + self.bias

    return Router()


@register("routehead")
class RouteHead(Ranker):
    """ICR's head-selection component, not a scorer on its own: `rerank --kind icr --model DIR`
    (the router names its LM) or `--model LM --router DIR` scores with it."""

    Settings = RouteHeadSettings
    candidates = None
    trains_on = HeadsData
    net = None

    def __init__(self, settings=None, runtime: Runtime = Runtime()):
        super().__init__(settings, runtime)
        self.lm: dict = {}
        self.static_heads: list[int] = []

    @property
    def n_heads(self) -> int:
        return self.lm["layers"] * self.lm["heads"]

    def fit(self, data, seed: int = 0, progress=None) -> "RouteHead":
        import torch

        from ..datasets.heads import greedy_heads
        from ..training.loop import seeded, train_epochs

        s = self.settings
        self.lm = {k: data.meta[k] for k in ("lm", "layers", "heads", "hidden", "state_layer")}
        if s.static:
            single = np.array([[data.ndcg(q, data.scores[q, :, h]) for h in range(self.n_heads)]
                               for q in range(len(data.qids))])
            self.static_heads = [int(h) for h in np.argsort(-single.mean(axis=0), kind="stable")[:s.max_heads]]
            if progress:
                progress.advance(s.epochs)
            return self
        labels = np.zeros((len(data.qids), self.n_heads), dtype=np.float32)
        for q in range(len(data.qids)):
            labels[q, greedy_heads(data, q, s.max_heads)] = 1.0
        generator = seeded(seed)
        self.net = build_router(self.lm["hidden"], self.n_heads, s.width)
        x, y = torch.as_tensor(data.states, dtype=torch.float32), torch.as_tensor(labels)

        def loss(idx, epoch):
            logits = self.net(x[idx])
            return (torch.nn.functional.binary_cross_entropy_with_logits(logits, y[idx])
                    + s.sparsity * torch.sigmoid(logits).mean())

        train_epochs(self.net, self.net.parameters(), len(x), loss, s, generator, progress=progress)
        return self

    def weights(self, states: np.ndarray) -> np.ndarray:
        """float64 [queries, heads]: p_h on each query's top --max-heads heads (static: 1 on the
        chosen heads), 0 elsewhere."""
        out = np.zeros((len(states), self.n_heads))
        if self.settings.static:
            out[:, self.static_heads] = 1.0
            return out
        import torch

        with torch.inference_mode():
            p = torch.sigmoid(self.net(torch.as_tensor(np.asarray(states), dtype=torch.float32))).double().numpy()
        top = np.argsort(-p, axis=1, kind="stable")[:, :self.settings.max_heads]
        np.put_along_axis(out, top, np.take_along_axis(p, top, axis=1), axis=1)
        return out

    def check_lm(self, name: str, config) -> None:
        """Refuse heads learned on another LM (by name and shape)."""
        shape = (config.num_hidden_layers, config.num_attention_heads, config.hidden_size)
        if self.lm["lm"] != name or (self.lm["layers"], self.lm["heads"], self.lm["hidden"]) != shape:
            raise LlmrankError(f"the router's heads were learned on {self.lm['lm']} ({self.lm['layers']} layers x "
                               f"{self.lm['heads']} heads), not on {name} ({shape[0]} x {shape[1]})")

    def manifest(self) -> dict:
        return {"lm": self.lm, "static_heads": self.static_heads}

    def save_weights(self, directory) -> None:
        import torch

        if self.net is not None:
            torch.save(self.net.state_dict(), Path(directory) / "router.pt")

    @classmethod
    def load(cls, directory, manifest: dict, runtime: Runtime = Runtime()) -> "RouteHead":
        import torch

        from .base import stored_settings

        ranker = cls(stored_settings(cls, manifest), runtime)
        ranker.lm, ranker.static_heads = manifest["lm"], manifest["static_heads"]
        if not ranker.settings.static:
            ranker.net = build_router(ranker.lm["hidden"], ranker.n_heads, ranker.settings.width)
            ranker.net.load_state_dict(torch.load(Path(directory) / "router.pt", weights_only=True))
            ranker.net.eval()
        return ranker
