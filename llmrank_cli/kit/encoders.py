"""Loading pretrained encoders by name (local directory, offline package, hub) with one-line
errors, and the frozen sentence embeddings item rankers read as query features."""
from __future__ import annotations

import numpy as np

from .resolve import load_error, resolve_model


def load_encoder(name: str):
    """(tokenizer, transformers AutoModel) for a text encoder."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise load_error(name, exc) from None


def load_sentence_transformer(name: str, device: str):
    from sentence_transformers import SentenceTransformer

    path = resolve_model(name)
    try:
        return SentenceTransformer(path, device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise load_error(name, exc) from None


def encode_texts(texts: list[str], encoder: str, batch_size: int = 64, device: str = "auto",
                 model=None) -> np.ndarray:
    """Normalised float32 sentence embeddings (``model``: an already loaded SentenceTransformer)."""
    from .devices import pick_device, use_all_cores

    if model is None:
        use_all_cores()
        model = load_sentence_transformer(encoder, pick_device(device))
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False,
                        normalize_embeddings=True).astype(np.float32)
