"""``bi-encoder`` (``--kind bi``): any SentenceTransformer, scoring a pair by cosine or dot
product of the query and passage embeddings. Each distinct query and passage is encoded once."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kit.batching import CALIBRATION_TOKENS, MAX_TOKENS
from . import register
from .base import PassageRanker, Runtime, Settings, setting


@dataclass
class BiEncoderSettings(Settings):
    similarity: str = setting("cos", "cos or dot: how query and passage embeddings are compared.",
                              choices=("cos", "dot"), scoring=True)


@register("bi-encoder", aliases=("bi",))
class BiEncoderRanker(PassageRanker):
    Settings = BiEncoderSettings
    exports = True

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             similarity: str | None = None, **options) -> "BiEncoderRanker":
        from ..kit.devices import pick_dtype, place
        from ..kit.encoders import load_sentence_transformer
        from . import settings_for

        ranker = cls(settings_for("bi-encoder", similarity=similarity), runtime)
        if ranker.use_export(model, max_length, batch_size):
            return ranker
        device, _ = place(runtime)
        st = load_sentence_transformer(model, device)
        if max_length:
            st.max_seq_length = max_length
        st.to(pick_dtype(runtime.dtype, device))
        ranker.st, ranker.tokenizer, ranker.model_name, ranker.batch_size, ranker.device = (
            st, st.tokenizer, model, batch_size, device)
        ranker.max_length = st.max_seq_length
        return ranker

    def export_parts(self) -> tuple:
        from ..kit.resolve import resolve_model

        st = self.st
        return st, lambda **inputs: st(inputs)["sentence_embedding"], st.tokenizer, resolve_model(self.model_name)

    def manifest(self) -> dict:
        return {**super().manifest(), "similarity": self.settings.similarity}

    def _batches(self, texts: list[str], count: bool = True, max_tokens: int = MAX_TOKENS):
        """(indices, padded numpy inputs) of length-sorted token-budget batches (the cross-encoder's);
        ``count``: add the texts cut at max_length to the run's report."""
        from ..kit.batching import padded_batches, truncated

        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        if count:
            self.truncated += truncated(self.tokenizer, enc, self.max_length, texts)
        return padded_batches(self.tokenizer, enc, self.batch_size, "np", max_tokens)

    def calibration(self) -> list[dict]:
        from ..kit.backends import calibration_pairs

        texts = sorted({t for pair in calibration_pairs() for t in pair})
        return [dict(batch) for _, batch in self._batches(texts, count=False, max_tokens=CALIBRATION_TOKENS)]

    def _encode(self, texts: list[str]) -> np.ndarray:
        """float64 embeddings (unit length under cos) from token-budget batches on every backend:
        on torch too, where they bound activations (DL19's passages, 2 cores: 49 s and 1.20 GiB
        peak; SentenceTransformer.encode's batches of 64: 74 s and 1.24-1.36 GiB)."""
        cos = self.settings.similarity == "cos"
        out = None
        for idx, batch in self._batches(texts):
            vectors = (self.exported or self._on_torch)(batch).astype(np.float64)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]))
            out[idx] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12) if cos else vectors
        return out if out is not None else np.zeros((0, 0))

    def _on_torch(self, batch: dict) -> np.ndarray:
        import torch

        with torch.inference_mode():
            inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
            return self.st(inputs)["sentence_embedding"].float().cpu().numpy()

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        q_text, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        p_text, p_index = np.unique(np.asarray(passages, dtype=object), return_inverse=True)
        q = self._encode(list(q_text))
        p = self._encode(list(p_text))
        return np.einsum("ij,ij->i", q[q_index], p[p_index])
