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

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             similarity: str | None = None, **options) -> "BiEncoderRanker":
        from ..kit.devices import pick_dtype, place
        from ..kit.encoders import load_sentence_transformer
        from . import settings_for

        ranker = cls(settings_for("bi-encoder", similarity=similarity), runtime)
        device, _ = place(runtime)
        st = load_sentence_transformer(model, device)
        if max_length:
            st.max_seq_length = max_length
        st.to(pick_dtype(runtime.dtype, device))
        ranker.st, ranker.model_name, ranker.batch_size, ranker.device = st, model, batch_size, device
        ranker.max_length = st.max_seq_length
        return ranker

    def manifest(self) -> dict:
        return {**super().manifest(), "similarity": self.settings.similarity}

    def _encode(self, texts: list[str]) -> np.ndarray:
        lengths = self.st.tokenizer(texts, truncation=False)["input_ids"]
        self.truncated += sum(len(ids) > self.max_length for ids in lengths)
        return self.st.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False,
                              normalize_embeddings=self.settings.similarity == "cos").astype(np.float64)

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        q_text, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        p_text, p_index = np.unique(np.asarray(passages, dtype=object), return_inverse=True)
        q = self._encode(list(q_text))
        p = self._encode(list(p_text))
        return np.einsum("ij,ij->i", q[q_index], p[p_index])
