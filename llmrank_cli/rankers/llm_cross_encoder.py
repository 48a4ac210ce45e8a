"""``llm-cross-encoder`` (the track literature's Tier 3): a pretrained text encoder reads the
query and its [CLS] vector (fine-tuned) is joined with a learned LLM embedding (192) in an MLP
[→768→384→1], trained with binary cross-entropy against the gains.

Every query-LLM pair of a query shares one encoder pass: the first MLP layer is split into a
query part and an item part that are added by broadcasting, so an epoch costs one fine-tuning
pass over the training queries, not one per pair.

With ``train_layers`` N only the encoder's top N layers are fine-tuned, on cached output of
the frozen ones (``kit/top_layers.py``): several times less work per step, same numbers.

A per-item bias starts at the logit of the item's mean gain on the training queries and the
MLP's output layer at zero, so training starts from the prior (the BCE-optimal query-blind
model) and learns what the query adds to it.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import register
from .base import ItemRanker, LoopFields, setting


@dataclass
class LlmCrossEncoderSettings(LoopFields):
    encoder: Optional[str] = setting(None, "Text encoder to fine-tune (default: the data directory's).")
    item_dim: int = setting(192, "Learned LLM embedding size.", min=1)
    mlp: list = setting([768, 384], "The two hidden layer sizes of the scoring MLP (comma-separated).")
    dropout: float = setting(0.1, "Dropout in the scoring MLP.", min=0.0)
    epochs: int = setting(4, "Training epochs.", min=1)
    batch_size: int = setting(16, "Queries per batch.", min=1)
    lr: float = setting(1e-3, "Learning rate of the head (MLP, LLM embeddings, biases).", min=0.0)
    encoder_lr: float = setting(3e-5, "Learning rate of the encoder's fine-tuned layers.", min=0.0)
    max_length: int = setting(128, "Token limit of a query.", min=8)
    train_layers: Optional[int] = setting(None, "Fine-tune only the encoder's top N layers, on cached output of "
                                          "the frozen ones (faster; default: all layers).", min=1)


def build_network(cfg, encoder, n_items: int):
    import torch
    import torch.nn as nn

    hidden = encoder.config.hidden_size
    first, second = cfg.mlp

    class QueryItemCrossEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.item_embedding = nn.Embedding(n_items, cfg.item_dim)
            self.query_in = nn.Linear(hidden, first)
            self.item_in = nn.Linear(cfg.item_dim, first, bias=False)
            self.head = nn.Sequential(nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(first, second), nn.ReLU(),
                                      nn.Dropout(cfg.dropout), nn.Linear(second, 1))
            self.item_bias = nn.Parameter(torch.zeros(n_items))

        def start_from_prior(self, mean_gains: np.ndarray) -> None:
            p = torch.as_tensor(np.clip(mean_gains, 0.01, 0.99), dtype=torch.float32)
            with torch.no_grad():
                self.item_bias.copy_(torch.log(p / (1 - p)))
                self.head[-1].weight.zero_()
                self.head[-1].bias.zero_()

        def forward(self, batch):
            return self.scores(self.encoder(**batch).last_hidden_state[:, 0])

        def scores(self, cls):
            """Logits [queries, items]: item bias + MLP([CLS(query); item embedding]) for every pair."""
            joint = self.query_in(cls)[:, None, :] + self.item_in(self.item_embedding.weight)[None, :, :]
            return self.head(joint).squeeze(-1) + self.item_bias

    return QueryItemCrossEncoder()


@register("llm-cross-encoder", aliases=("tier3",))
class LlmCrossEncoder(ItemRanker):
    Settings = LlmCrossEncoderSettings
    net = tokenizer = _held_out = None
    device = "cpu"

    def _tokens(self, texts: list[str], tensors: bool = True):
        batch = self.tokenizer(texts, padding=tensors, truncation=True, max_length=self.settings.max_length,
                               return_tensors="pt" if tensors else None)
        return batch.to(self.device) if tensors else batch

    def fit_pool(self, data, train: np.ndarray, seed: int, progress) -> None:
        import torch

        from ..kit.devices import place
        from ..kit.encoders import load_encoder
        from ..kit.top_layers import TopLayers, frozen_states
        from ..training.loop import seeded, train_epochs

        s = self.settings
        self.device, dtype = place(self.runtime)
        rng = seeded(seed)  # the head's initial weights, dropout, then the order of queries
        s.encoder = s.encoder or self.encoder
        self.tokenizer, encoder = load_encoder(s.encoder)
        self.net = build_network(s, encoder, len(self.items)).to(self.device)
        gains_train = np.clip(data.gains[train], 0, None)
        gains_train /= max(float(gains_train.max()), 1e-9)  # BCE targets in [0, 1]
        self.net.start_from_prior(gains_train.mean(axis=0))
        texts = [data.texts[i] for i in train]
        top = None
        if s.train_layers is not None:
            top = TopLayers(self.net.encoder, s.train_layers)
            cached = frozen_states(top, data.texts, self._tokens, (s.encoder, s.max_length, self.device))
            states = [cached[i] for i in train]
        groups = [{"params": top.parameters() if top else self.net.encoder.parameters(), "lr": s.encoder_lr},
                  {"params": [p for n, p in self.net.named_parameters() if not n.startswith("encoder.")]}]
        gains = torch.as_tensor(gains_train, dtype=torch.float32, device=self.device)
        bce = torch.nn.BCEWithLogitsLoss()

        def loss(idx, epoch):
            logits = (self.net.scores(top.cls([states[i] for i in idx])) if top
                      else self.net(self._tokens([texts[i] for i in idx])))
            return bce(logits.float(), gains[idx.to(self.device)])

        self._held_out = (lambda idx: self.net.scores(top.cls([cached[i] for i in idx]))) if top else None
        with top.swapped() if top else contextlib.nullcontext():
            train_epochs(self.net, groups, len(texts), loss, s, rng, self.device, dtype, progress,
                         self.watch)
        self._held_out = None

    def held_out_scores(self, data, idx) -> np.ndarray:
        if self._held_out is None:
            return super().held_out_scores(data, idx)
        return self._held_out(idx).double().cpu().numpy()  # while training on cached states

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                out.append(self.net(self._tokens(texts[start:start + 64])).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.items)))

    def save_weights(self, directory) -> None:
        import torch

        self.net.encoder.save_pretrained(directory / "encoder")
        self.tokenizer.save_pretrained(directory / "encoder")
        head = {k: v for k, v in self.net.state_dict().items() if not k.startswith("encoder.")}
        torch.save(head, directory / "head.pt")

    def load_weights(self, directory) -> None:
        import torch

        from ..kit.devices import place
        from ..kit.encoders import load_encoder

        self.device, _ = place(self.runtime)
        self.tokenizer, encoder = load_encoder(str(directory / "encoder"))
        self.net = build_network(self.settings, encoder, len(self.items))
        self.net.load_state_dict(torch.load(directory / "head.pt", weights_only=True), strict=False)
        self.net.to(self.device).eval()
