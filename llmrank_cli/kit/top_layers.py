"""Fine-tune only an encoder's top layers on cached output of the frozen ones below.

The lower layers of a pretrained encoder change little in fine-tuning; running them once per
text (once per data directory in a CV, shared by its folds) and training the top N layers on
their cached output is several times faster. In a BERT-layout encoder the top layer computes
its output at [CLS] alone when [CLS] is all a ranker reads: same numbers, a sixth of the work.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..errors import LlmrankError


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
        mask = torch.zeros(padded.shape[:2], dtype=torch.long, device=padded.device)
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
        # the layers out of the stack stay in the module tree: train()/eval() reach the top layer
        self.encoder.swapped_out = nn.ModuleList(layer for layer in self.layers if layer not in self.stack)
        try:
            yield self
        finally:
            del self.encoder.swapped_out
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


_STATES: dict = {}


def frozen_states(top: TopLayers, texts: list[str], tokens, key: tuple) -> list:
    """``top.cache(texts, tokens)``, computed once per process for the same encoder settings
    (``key``), frozen depth and texts: every fold of a CV reuses it (no labels involved). One
    entry is kept; a new key replaces it."""
    import hashlib

    full = (*key, top.depth - top.n, hashlib.sha256("\0".join(texts).encode()).hexdigest())
    if full not in _STATES:
        _STATES.clear()
        _STATES[full] = top.cache(texts, tokens)
    return _STATES[full]


def clear_frozen_states() -> None:
    _STATES.clear()
