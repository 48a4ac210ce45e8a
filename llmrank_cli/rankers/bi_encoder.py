"""``bi-encoder`` (``--kind bi``): any SentenceTransformer, scoring a pair by cosine or dot
product of the query and passage embeddings. Each distinct query and passage is encoded once."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
        from ..kit.resolve import resolve_model
        from . import settings_for

        ranker = cls(settings_for("bi-encoder", similarity=similarity), runtime)
        device, _ = place(runtime)
        st = load_sentence_transformer(model, device)
        if max_length:
            st.max_seq_length = max_length
        if runtime.backend == "torch":
            st.to(pick_dtype(runtime.dtype, device))
        ranker.st, ranker.model_name, ranker.batch_size, ranker.device = st, model, batch_size, device
        ranker.max_length = st.max_seq_length
        ranker.export(st, lambda **inputs: st(inputs)["sentence_embedding"], resolve_model(model), ranker._calibration)
        return ranker

    def manifest(self) -> dict:
        return {**super().manifest(), "similarity": self.settings.similarity}

    def _batches(self, texts: list[str], count: bool = True):
        """(indices, padded inputs) of length-sorted token-budget batches (the cross-encoder's)
        for an exported model; ``count``: add the texts cut at max_length to the run's report."""
        from ..kit.batching import padded_batches, truncated

        tok = self.st.tokenizer
        enc = tok(texts, truncation=True, max_length=self.max_length)
        if count:
            self.truncated += truncated(tok, enc, self.max_length, texts)
        return padded_batches(tok, enc, self.batch_size, "np")

    def _calibration(self) -> list[dict]:
        from ..kit.backends import calibration_pairs

        texts = sorted({t for pair in calibration_pairs() for t in pair})
        return [dict(batch) for _, batch in self._batches(texts, count=False)]

    def _encode(self, texts: list[str]) -> np.ndarray:
        cos = self.settings.similarity == "cos"
        if self.exported is None:  # SentenceTransformer.encode tokenises on its own: count the cut texts here
            lengths = self.st.tokenizer(texts, truncation=False)["input_ids"]
            self.truncated += sum(len(ids) > self.max_length for ids in lengths)
            return self.st.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False,
                                  normalize_embeddings=cos).astype(np.float64)
        out = None
        for idx, batch in self._batches(texts):
            vectors = self.exported(batch).astype(np.float64)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]))
            out[idx] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12) if cos else vectors
        return out if out is not None else np.zeros((0, 0))

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        q_text, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        p_text, p_index = np.unique(np.asarray(passages, dtype=object), return_inverse=True)
        q = self._encode(list(q_text))
        p = self._encode(list(p_text))
        return np.einsum("ij,ij->i", q[q_index], p[p_index])
