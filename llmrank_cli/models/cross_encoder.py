"""Cross-encoders: any sentence-transformers CrossEncoder (hub id or directory).

Scores equal ``CrossEncoder.predict`` (same tokenisation, model and activation) but are
computed in token-budget batches of length-sorted pairs, which is faster on CPU and GPU.
"""
from __future__ import annotations

import numpy as np

from . import register
from .batching import token_batches
from .resolve import load_error, resolve_model
from .torch_setup import pick_device, pick_dtype, use_all_cores

MAX_TOKENS_PER_BATCH = 8192


def _hf_model(ce):
    """The transformers model inside a CrossEncoder (its layout changed across versions)."""
    first = ce[0] if hasattr(ce, "__getitem__") else None
    for owner, attr in ((first, "auto_model"), (first, "model"), (ce, "model")):
        model = getattr(owner, attr, None) if owner is not None else None
        if model is not None and hasattr(model, "config"):
            return model
    raise RuntimeError("cannot find the transformers model inside this CrossEncoder")


@register("cross")
class CrossEncoderReranker:
    kind = "cross"

    def __init__(self, ce, name: str, batch_size: int, device: str):
        self.ce, self.name, self.batch_size, self.device = ce, name, batch_size, device
        self.model = _hf_model(ce)
        self.max_length = getattr(ce, "max_seq_length", None) or ce.max_length
        self.truncated = 0

    @classmethod
    def load(cls, model: str, max_length: int | None = None, batch_size: int = 64, device: str = "auto",
             dtype: str = "auto", **_):
        path = resolve_model(model)
        from sentence_transformers import CrossEncoder

        dev = pick_device(device)
        use_all_cores()
        try:
            ce = CrossEncoder(path, max_length=max_length, device=dev)
        except (OSError, ValueError, RuntimeError) as exc:
            raise load_error(model, exc) from None
        ce.to(pick_dtype(dtype, dev))
        ce.eval()
        return cls(ce, model, batch_size, dev)

    def config(self) -> dict:
        return {"kind": self.kind, "model": self.name, "max_length": self.max_length,
                "batch_size": self.batch_size, "device": self.device, "dtype": str(self.model.dtype)}

    def score(self, queries: list[str], passages: list[str]) -> np.ndarray:
        import torch

        tok = self.ce.tokenizer
        full = tok(queries, passages, truncation=False)["input_ids"]
        self.truncated += sum(len(ids) > self.max_length for ids in full)
        enc = tok(queries, passages, truncation=True, max_length=self.max_length)
        lengths = np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64, count=len(queries))
        out = np.empty(len(queries), dtype=np.float64)
        activation = self.ce.activation_fn
        with torch.inference_mode():
            for idx in token_batches(lengths, self.batch_size, MAX_TOKENS_PER_BATCH):
                batch = tok.pad({k: [enc[k][j] for j in idx] for k in enc.keys()}, return_tensors="pt")
                logits = self.model(**batch.to(self.device)).logits.float()
                scores = activation(logits) if activation is not None else logits
                out[idx] = scores[:, 0].cpu().numpy() if scores.ndim > 1 else scores.cpu().numpy()
        return out
