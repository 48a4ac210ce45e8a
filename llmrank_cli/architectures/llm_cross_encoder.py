"""``llm-cross-encoder`` (the track literature's Tier 3): a pretrained text encoder reads the
query and its [CLS] vector (fine-tuned) is joined with a learned LLM embedding (192) in an MLP
[→768→384→1], trained with binary cross-entropy against the gains.

Every query-LLM pair of a query shares one encoder pass: the first MLP layer is split into a
query part and an item part that are added by broadcasting, so an epoch costs one fine-tuning
pass over the training queries, not one per pair.

With ``train_layers`` N only the encoder's top N layers are fine-tuned: the frozen layers below
run once per query (once per data directory in a CV, shared by its folds), and every epoch
trains the top layers on their cached output (the lower layers of a pretrained encoder change
little in fine-tuning). In a BERT-layout encoder the top layer computes its output at [CLS]
alone, the only row tier3 reads: several times less work per step, same numbers.

A per-item bias starts at the logit of the item's mean gain on the training queries and the
MLP's output layer at zero, so training starts from the prior (the BCE-optimal query-blind
model) and learns what the query adds to it.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

from ..errors import LlmrankError
from . import register

DEFAULTS = dict(encoder=None, item_dim=192, mlp=[768, 384], dropout=0.1, epochs=4, batch_size=16, lr=1e-3,
                encoder_lr=3e-5, weight_decay=0.01, optimizer="adamw", max_length=128, train_layers=None)


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
            return self.scores(self.encoder(**batch).last_hidden_state[:, 0])

        def scores(self, cls):
            """Logits [queries, items]: item bias + MLP([CLS(query); item embedding]) for every pair."""
            joint = self.query_in(cls)[:, None, :] + self.item_in(self.item_embedding.weight)[None, :, :]
            return self.head(joint).squeeze(-1) + self.item_bias

    return QueryItemCrossEncoder()


class TopLayers:
    """Train only an encoder's top ``n`` layers on cached states of the frozen layers below.

    While :meth:`swapped` is active the encoder's ``embeddings`` module returns the cached states
    and its layer stack holds the top ``n`` layers, so the encoder's own forward (attention
    masks included) runs just those layers: any encoder with ``embeddings`` and one stack of
    ``num_hidden_layers`` layers (BERT, MiniLM, RoBERTa, GTE, ModernBERT ...)."""

    def __init__(self, encoder, n: int):
        import torch.nn as nn

        depth = encoder.config.num_hidden_layers
        stacks = [name for name, m in encoder.named_modules() if isinstance(m, nn.ModuleList) and len(m) == depth]
        if len(stacks) != 1 or not isinstance(getattr(encoder, "embeddings", None), nn.Module):
            raise LlmrankError(f"--train-layers needs an encoder with embeddings and one stack of {depth} layers; "
                               f"{type(encoder).__name__} has {len(stacks)} such stacks")
        if not 1 <= n <= depth:
            raise LlmrankError(f"--train-layers must be 1..{depth} for this {depth}-layer encoder")
        parent, _, self.attr = stacks[0].rpartition(".")
        self.encoder, self.n, self.depth = encoder, n, depth
        self.parent = encoder.get_submodule(parent)
        self.layers = getattr(self.parent, self.attr)
        self.cls_only = _bert_layout(self.layers[-1])
        # the layers the encoder's own forward runs; a BERT-layout top layer runs in cls()
        self.stack = list(self.layers)[depth - n:depth - 1 if self.cls_only else depth]

    def parameters(self):
        return [p for layer in list(self.layers)[self.depth - self.n:] for p in layer.parameters()]

    def cache(self, texts: list[str], tokens, batch_size: int = 64) -> list:
        """Per text, the [tokens, hidden] output of the frozen layers (pretrained, in eval mode)."""
        import torch

        lengths = [len(ids) for ids in tokens(texts, tensors=False)["input_ids"]]
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: little padding
        out = [None] * len(texts)
        was_training = self.encoder.training
        self.encoder.eval()
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                idx = order[start:start + batch_size]
                states = self.encoder(**tokens([texts[i] for i in idx]), output_hidden_states=True).hidden_states
                for row, i in enumerate(idx):
                    out[i] = states[self.depth - self.n][row, :lengths[i]].clone()
        self.encoder.train(was_training)
        return out

    def cls(self, states: list):
        """[CLS] vectors of the top layers over these cached states (padded to the longest)."""
        import torch

        padded = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        mask = torch.zeros(padded.shape[:2], dtype=torch.long)
        for row, s in enumerate(states):
            mask[row, :len(s)] = 1
        hidden = padded
        if self.stack:
            self.encoder.embeddings.states = padded
            hidden = self.encoder(input_ids=torch.zeros_like(mask), attention_mask=mask).last_hidden_state
        return _cls_of_layer(self.layers[-1], hidden, mask) if self.cls_only else hidden[:, 0]

    @contextlib.contextmanager
    def swapped(self):
        import torch.nn as nn

        class Cached(nn.Module):
            def forward(self, *args, **kwargs):
                return self.states

        embeddings = self.encoder.embeddings
        self.encoder.embeddings = Cached()
        setattr(self.parent, self.attr, nn.ModuleList(self.stack))
        try:
            yield self
        finally:
            self.encoder.embeddings = embeddings
            setattr(self.parent, self.attr, self.layers)


def _bert_layout(layer) -> bool:
    attention = getattr(getattr(layer, "attention", None), "self", None)
    return (all(hasattr(attention, a) for a in ("query", "key", "value", "scaling", "dropout"))
            and all(hasattr(layer, a) for a in ("intermediate", "output")) and hasattr(layer.attention, "output"))


def _cls_of_layer(layer, states, mask):
    """A BERT-layout layer's output at [CLS] alone: keys and values over every token, but the
    query, attention output and feed-forward for that one row (about a sixth of the layer)."""
    import torch.nn.functional as F

    att = layer.attention.self
    rows = states.shape[0]

    def heads(x):
        return x.view(rows, -1, att.num_attention_heads, att.attention_head_size).transpose(1, 2)

    context = F.scaled_dot_product_attention(
        heads(att.query(states[:, :1])), heads(att.key(states)), heads(att.value(states)),
        attn_mask=mask[:, None, None, :].bool(), dropout_p=att.dropout.p if att.training else 0.0, scale=att.scaling)
    first = layer.attention.output(context.transpose(1, 2).reshape(rows, 1, -1), states[:, :1])
    return layer.output(layer.intermediate(first), first)[:, 0]


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

    def _tokens(self, texts: list[str], tensors: bool = True):
        return self.tokenizer(texts, padding=tensors, truncation=True, max_length=self.cfg["max_length"],
                              return_tensors="pt" if tensors else None)

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
        texts = [data.texts[i] for i in train]
        top = None
        if self.cfg["train_layers"] is not None:
            top = TopLayers(self.net.encoder, self.cfg["train_layers"])
            key = (self.cfg["encoder"], self.cfg["max_length"], top.depth - top.n)
            if key not in data.frozen_states:  # every query once, for all folds (no labels involved)
                data.frozen_states[key] = top.cache(data.texts, self._tokens)
            states = [data.frozen_states[key][i] for i in train]
        groups = [{"params": top.parameters() if top else self.net.encoder.parameters(), "lr": self.cfg["encoder_lr"]},
                  {"params": [p for n, p in self.net.named_parameters() if not n.startswith("encoder.")]}]
        optimizer = make_optimizer(self.cfg["optimizer"], groups, self.cfg["lr"], self.cfg["weight_decay"])
        gains = torch.as_tensor(gains_train, dtype=torch.float32)
        generator = torch.Generator().manual_seed(seed)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        self.net.train()
        with top.swapped() if top else contextlib.nullcontext():
            for _ in range(self.cfg["epochs"]):
                for idx in torch.randperm(len(texts), generator=generator).split(self.cfg["batch_size"]):
                    logits = (self.net.scores(top.cls([states[i] for i in idx])) if top
                              else self.net(self._tokens([texts[i] for i in idx])))
                    loss = loss_fn(logits, gains[idx])
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
