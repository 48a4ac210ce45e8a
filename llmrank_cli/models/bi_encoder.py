"""Bi-encoders: any SentenceTransformer, scoring a pair by cosine or dot product of the
query and passage embeddings. Each distinct query and passage is encoded once."""
from __future__ import annotations

import numpy as np

from . import register
from .resolve import load_error, resolve_model
from .torch_setup import pick_device, pick_dtype, use_all_cores

SIMILARITIES = ("cos", "dot")


@register("bi")
class BiEncoderReranker:
    kind = "bi"

    def __init__(self, st, name: str, batch_size: int, device: str, similarity: str):
        self.st, self.name, self.batch_size, self.device = st, name, batch_size, device
        self.similarity = similarity
        self.max_length = st.max_seq_length
        self.truncated = 0

    @classmethod
    def load(cls, model: str, max_length: int | None = None, batch_size: int = 64, device: str = "auto",
             dtype: str = "auto", similarity: str = "cos", **_):
        from ..errors import LlmrankError

        if similarity not in SIMILARITIES:
            raise LlmrankError(f"--similarity must be one of {', '.join(SIMILARITIES)}")
        path = resolve_model(model)
        from sentence_transformers import SentenceTransformer

        dev = pick_device(device)
        use_all_cores()
        try:
            st = SentenceTransformer(path, device=dev)
        except (OSError, ValueError, RuntimeError) as exc:
            raise load_error(model, exc) from None
        if max_length:
            st.max_seq_length = max_length
        st.to(pick_dtype(dtype, dev))
        return cls(st, model, batch_size, dev, similarity)

    def config(self) -> dict:
        return {"kind": self.kind, "model": self.name, "max_length": self.max_length, "similarity": self.similarity,
                "batch_size": self.batch_size, "device": self.device}

    def _encode(self, texts: list[str]) -> np.ndarray:
        lengths = self.st.tokenizer(texts, truncation=False)["input_ids"]
        self.truncated += sum(len(ids) > self.max_length for ids in lengths)
        return self.st.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False,
                              normalize_embeddings=self.similarity == "cos").astype(np.float64)

    def score(self, queries: list[str], passages: list[str]) -> np.ndarray:
        q_text, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        p_text, p_index = np.unique(np.asarray(passages, dtype=object), return_inverse=True)
        q = self._encode(list(q_text))
        p = self._encode(list(p_text))
        return np.einsum("ij,ij->i", q[q_index], p[p_index])
