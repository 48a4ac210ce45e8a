"""``llm-cross-encoder`` (the track literature's Tier 3): a pretrained text encoder reads the
query and its [CLS] vector (fine-tuned) is joined with a learned LLM embedding (192) in an MLP
[→768→384→1], trained with binary cross-entropy against the gains.

Every query-LLM pair of a query shares one encoder pass: the first MLP layer is split into a
query part and an item part that are added by broadcasting, so an epoch costs one fine-tuning
pass over the training queries, not one per pair.

A per-item bias starts at the logit of the item's mean gain on the training queries and the
MLP's output layer at zero, so training starts from the prior (the BCE-optimal query-blind
model) and learns what the query adds to it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import register

DEFAULTS = dict(encoder=None, item_dim=192, mlp=[768, 384], dropout=0.1, epochs=4, batch_size=16, lr=1e-3,
                encoder_lr=3e-5, weight_decay=0.01, optimizer="adamw", max_length=128)


def build_network(cfg: dict, encoder, n_items: int):
    import torch
    import torch.nn as nn

    hidden = encoder.config.hidden_size
    first, second = cfg["mlp"]

    class QueryItemCrossEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.item_embedding = nn.Embedding(n_items, cfg["item_dim"])
            self.query_in = nn.Linear(hidden, first)
            self.item_in = nn.Linear(cfg["item_dim"], first, bias=False)
            self.head = nn.Sequential(nn.ReLU(), nn.Dropout(cfg["dropout"]), nn.Linear(first, second), nn.ReLU(),
                                      nn.Dropout(cfg["dropout"]), nn.Linear(second, 1))
            self.item_bias = nn.Parameter(torch.zeros(n_items))

        def start_from_prior(self, mean_gains: np.ndarray) -> None:
            p = torch.as_tensor(np.clip(mean_gains, 0.01, 0.99), dtype=torch.float32)
            with torch.no_grad():
                self.item_bias.copy_(torch.log(p / (1 - p)))
                self.head[-1].weight.zero_()
                self.head[-1].bias.zero_()

        def forward(self, batch):
            """Logits [queries, items]: item bias + MLP([CLS(query); item embedding]) for every pair."""
            cls = self.encoder(**batch).last_hidden_state[:, 0]
            joint = self.query_in(cls)[:, None, :] + self.item_in(self.item_embedding.weight)[None, :, :]
            return self.head(joint).squeeze(-1) + self.item_bias

    return QueryItemCrossEncoder()


def _load_encoder(name: str):
    from transformers import AutoModel, AutoTokenizer

    from ..models.resolve import load_error, resolve_model

    path = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise load_error(name, exc) from None


@register("llm-cross-encoder")
class LlmCrossEncoder:
    def __init__(self, name: str = "llm-cross-encoder", **overrides):
        self.name = name
        self.cfg = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
        self.items: list[str] = []
        self.net = self.tokenizer = None

    def config(self) -> dict:
        return dict(self.cfg)

    def _tokens(self, texts: list[str]):
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.cfg["max_length"],
                              return_tensors="pt")

    def fit(self, data, train: np.ndarray, seed: int = 0, progress=None) -> "LlmCrossEncoder":
        import torch

        from ..models.torch_setup import use_all_cores
        from ..training.optimizers import make_optimizer

        use_all_cores()
        torch.manual_seed(seed)
        self.cfg["encoder"] = self.cfg["encoder"] or data.meta["encoder"]
        self.items = list(data.items)
        self.tokenizer, encoder = _load_encoder(self.cfg["encoder"])
        self.net = build_network(self.cfg, encoder, len(self.items))
        gains_train = np.clip(data.gains[train], 0, None)
        gains_train /= max(float(gains_train.max()), 1e-9)  # BCE targets in [0, 1]
        self.net.start_from_prior(gains_train.mean(axis=0))
        groups = [{"params": self.net.encoder.parameters(), "lr": self.cfg["encoder_lr"]},
                  {"params": [p for n, p in self.net.named_parameters() if not n.startswith("encoder.")]}]
        optimizer = make_optimizer(self.cfg["optimizer"], groups, self.cfg["lr"], self.cfg["weight_decay"])
        texts = [data.texts[i] for i in train]
        gains = torch.as_tensor(gains_train, dtype=torch.float32)
        generator = torch.Generator().manual_seed(seed)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        self.net.train()
        for _ in range(self.cfg["epochs"]):
            for idx in torch.randperm(len(texts), generator=generator).split(self.cfg["batch_size"]):
                loss = loss_fn(self.net(self._tokens([texts[i] for i in idx])), gains[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if progress:
                progress.advance(1)
        self.net.eval()
        return self

    def score(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                out.append(self.net(self._tokens(texts[start:start + 64])).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.items)))

    def save(self, directory: Path, manifest: dict) -> None:
        import torch

        self.net.encoder.save_pretrained(directory / "encoder")
        self.tokenizer.save_pretrained(directory / "encoder")
        head = {k: v for k, v in self.net.state_dict().items() if not k.startswith("encoder.")}
        torch.save(head, directory / "head.pt")
        (directory / "model.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, directory: str, meta: dict) -> "LlmCrossEncoder":
        import torch

        model = cls(meta["architecture"], **meta["config"])
        model.items = meta["items"]
        model.tokenizer, encoder = _load_encoder(str(Path(directory) / "encoder"))
        model.net = build_network(model.cfg, encoder, len(model.items))
        model.net.load_state_dict(torch.load(Path(directory) / "head.pt", weights_only=True), strict=False)
        model.net.eval()
        return model
