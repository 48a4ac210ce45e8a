"""Loading pretrained encoders by name (local directory, offline package, hub) with one-line
errors, and the frozen sentence embeddings item rankers read as query features."""
from __future__ import annotations

import numpy as np

from .resolve import files_key, load_error, resolve_model


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


def layer_states(texts: list[str], encoder: str, batch_size: int = 64, device: str = "auto",
                 model=None) -> np.ndarray:
    """float32 [texts, layers + 1, dim]: the mean over each text's tokens of every layer's output
    (the embedding layer first, the last layer's row is the sentence embedding before its
    normalisation), from one forward pass per batch; texts are cut at the encoder's max length."""
    import torch

    from .devices import pick_device, use_all_cores

    if model is None:
        use_all_cores()
        model = load_sentence_transformer(encoder, pick_device(device))
    body = model[0]
    lengths = np.array([len(t) for t in texts])
    order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: little padding
    out = None
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            tokens = body.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                    max_length=model.max_seq_length, return_tensors="pt").to(model.device)
            states = body.auto_model(**tokens, output_hidden_states=True).hidden_states
            mask = tokens["attention_mask"].unsqueeze(-1).float()
            pooled = torch.stack([(h * mask).sum(1) / mask.sum(1) for h in states], dim=1)
            if out is None:
                out = np.zeros((len(texts), *pooled.shape[1:]), dtype=np.float32)
            out[idx] = pooled.float().cpu().numpy()
    return out if out is not None else np.zeros((0, 0, 0), dtype=np.float32)


def cached_embeddings(texts: list[str], encoder: str, model=None, device: str = "auto") -> np.ndarray:
    """:func:`encode_texts` of a corpus, kept on disk (``$LLMRANK_CACHE``, default
    ``~/.cache/llmrank``) under a key of the encoder's files and the texts: ranking the same
    passages again reads them back instead of running the encoder."""
    import os
    import warnings
    from pathlib import Path

    from ..errors import Note
    from ..formats.io import atomic_output

    from ..manifest import numerics_key

    key = files_key(resolve_model(encoder), (numerics_key(), *texts), 32)  # its bytes depend on kernels and ISA
    path = Path(os.environ.get("LLMRANK_CACHE", Path.home() / ".cache" / "llmrank")) / "embeddings" / f"{key}.npy"
    if path.exists():
        try:
            cached = np.load(path)
            if cached.shape[0] == len(texts):
                return cached
        except (OSError, ValueError, EOFError):
            pass
        warnings.warn(f"{path}: a damaged cache entry; computing it again", Note)
    vectors = encode_texts(texts, encoder, model=model, device=device)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "wb") as f:
        np.save(f, vectors)
    return vectors
