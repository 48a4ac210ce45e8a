"""Loading a frozen causal LM (hub id, local directory, or an offline GGUF package such as
``smollm2-135m``) for reading its hidden states or attention, with one-line errors."""
from __future__ import annotations

from ..errors import LlmrankError
from .resolve import load_error, resolve_causal_lm


def load_causal_lm(name: str, device: str = "cpu", dtype=None):
    """(tokenizer, model) in eval mode; attention runs as SDPA unless a caller switches it."""
    import contextlib
    import io

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .devices import use_all_cores

    use_all_cores()
    path, gguf = resolve_causal_lm(name)
    extra = {"gguf_file": gguf} if gguf else {}
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the GGUF dequantisation's own progress bar
            tokenizer = AutoTokenizer.from_pretrained(path, **extra)
            model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa", **extra)
    except (OSError, ValueError) as exc:
        raise load_error(name, exc) from None
    if not hasattr(model, "model"):
        raise LlmrankError(f"model {name!r} has no decoder stack (model.model) to read")
    if dtype is not None:
        model.to(dtype)
    return tokenizer, model.to(device).eval()


def cache_keyword(body) -> str:
    """The name a decoder stack's forward gives its KV cache (``cache`` in transformers 5.x,
    ``past_key_values`` before)."""
    import inspect

    return "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"
