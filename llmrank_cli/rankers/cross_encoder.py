"""``cross-encoder`` (``--kind cross``): any sentence-transformers CrossEncoder (hub id or
directory) scores query-passage pairs; `llmrank train cross-encoder` fine-tunes one
(``training/hf.py``) from qrels, triples or a teacher run.

Scores equal ``CrossEncoder.predict`` (same tokenisation, model and activation) but are
computed in token-budget batches of length-sorted pairs, which is faster on CPU and GPU. A
model whose scoring head is not in its checkpoint (an embedding model such as
all-MiniLM-L6-v2) is refused: its head would be random, its scores noise.
"""
from __future__ import annotations

import numpy as np

from ..datasets.passages import PassageExamples
from ..kit.batching import CALIBRATION_TOKENS, MAX_TOKENS
from ..errors import LlmrankError
from . import register
from ..training.hf import TrainSettings, train
from .base import PassageRanker, Runtime


def _hf_model(ce):
    """The transformers model inside a CrossEncoder (its layout changed across versions)."""
    first = ce[0] if hasattr(ce, "__getitem__") else None
    for owner, attr in ((first, "auto_model"), (first, "model"), (ce, "model")):
        model = getattr(owner, attr, None) if owner is not None else None
        if model is not None and hasattr(model, "config"):
            return model
    raise RuntimeError("cannot find the transformers model inside this CrossEncoder")


def untrained_weights(model, path: str) -> list[str]:
    """Names of ``model``'s weights that its checkpoint in ``path`` does not hold (newly
    initialised on load), read from the checkpoint's index or header, not its tensors."""
    import json
    from pathlib import Path

    folder = Path(path)
    stored: set[str] = set()
    for index in folder.glob("*.safetensors.index.json"):
        stored |= set(json.loads(index.read_text())["weight_map"])
    if not stored:
        files = sorted(folder.glob("*.safetensors"))
        if not files:
            return []  # a .bin checkpoint (or none): transformers has already complained if it lacked weights
        from safetensors import safe_open

        for file in files:
            with safe_open(str(file), framework="pt") as fh:
                stored |= set(fh.keys())
    prefix = f"{model.base_model_prefix}."
    strip = {k[len(prefix):] if k.startswith(prefix) else k for k in stored}
    return [k for k in model.state_dict() if (k[len(prefix):] if k.startswith(prefix) else k) not in strip]


@register("cross-encoder", aliases=("cross",))
class CrossEncoderRanker(PassageRanker):
    Settings = TrainSettings
    trains_on = PassageExamples
    trainer = staticmethod(train)  # the Hugging Face Trainer (training/hf.py)
    exports = True

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             **options) -> "CrossEncoderRanker":
        from ..kit.devices import pick_dtype, place
        from ..kit.resolve import load_error, resolve_model

        ranker = cls(None, runtime)
        if ranker.use_export(model, max_length, batch_size):
            return ranker
        from sentence_transformers import CrossEncoder

        path = resolve_model(model)
        device, dtype = place(runtime)
        try:
            ce = CrossEncoder(path, max_length=max_length, device=device)
        except (OSError, ValueError, RuntimeError) as exc:
            raise load_error(model, exc) from None
        fresh = untrained_weights(_hf_model(ce), path)
        if fresh:
            raise LlmrankError(f"model {model!r} has no trained scoring head ({', '.join(fresh[:2])} would be random): "
                               f"use --kind bi for an embedding model, or a trained cross-encoder")
        ce.to(pick_dtype(runtime.dtype, device))
        ce.eval()
        return cls.wrap(ce, model, batch_size, device, runtime)

    @classmethod
    def wrap(cls, ce, name: str, batch_size: int, device: str, runtime: Runtime = Runtime(),
             settings=None) -> "CrossEncoderRanker":
        """A ranker over a CrossEncoder already in memory (e.g. one being trained, with the
        settings it is trained with: a subclass reads its input as it will when scoring)."""
        ranker = cls(settings, runtime)
        ranker.ce, ranker.model, ranker.tokenizer = ce, _hf_model(ce), ce.tokenizer
        ranker.model_name, ranker.batch_size, ranker.device = name, batch_size, device
        ranker.max_length = getattr(ce, "max_seq_length", None) or ce.max_length
        return ranker

    @classmethod
    def load(cls, directory, manifest: dict, runtime: Runtime = Runtime()) -> "CrossEncoderRanker":
        """A directory `llmrank train cross-encoder` wrote (its model.json names this ranker)."""
        return cls.open(str(directory), runtime)

    def export_parts(self) -> tuple:
        """The model's scores as CrossEncoder.predict gives them: its activation is in the export."""
        from ..kit.resolve import resolve_model

        model, activation = self.model, self.ce.activation_fn or (lambda logits: logits)
        forward = lambda **inputs: activation(model(**inputs).logits)  # noqa: E731
        return model, forward, self.tokenizer, resolve_model(self.model_name)

    def manifest(self) -> dict:
        return {**super().manifest(), **({} if self.exported else {"dtype": str(self.model.dtype)})}

    def _batches(self, queries: list[str], passages: list[str], count: bool = True, max_tokens: int = MAX_TOKENS):
        """(indices, padded inputs) of length-sorted token-budget batches, on every backend;
        ``count``: add the pairs cut at max_length to the run's report."""
        from ..kit.batching import padded_batches, truncated

        enc = self.tokenizer(queries, passages, truncation=True, max_length=self.max_length)
        if count:
            self.truncated += truncated(self.tokenizer, enc, self.max_length, queries, passages)
        return padded_batches(self.tokenizer, enc, self.batch_size, "np" if self.exported else "pt", max_tokens)

    def calibration(self) -> list[dict]:
        from ..kit.backends import calibration_pairs

        pairs = calibration_pairs()
        return [{k: v.numpy() for k, v in batch.items()} for _, batch in
                self._batches([q for q, _ in pairs], [p for _, p in pairs], count=False, max_tokens=CALIBRATION_TOKENS)]

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        out = np.empty(len(queries), dtype=np.float64)
        if self.exported is not None:
            for idx, batch in self._batches(queries, passages):
                scores = self.exported(batch)
                out[idx] = scores[:, 0] if scores.ndim > 1 else scores
            return out
        import torch

        activation = self.ce.activation_fn
        with torch.inference_mode():
            for idx, batch in self._batches(queries, passages):
                logits = self.model(**batch.to(self.device)).logits.float()
                scores = activation(logits) if activation is not None else logits
                out[idx] = scores[:, 0].cpu().numpy() if scores.ndim > 1 else scores.cpu().numpy()
        return out
