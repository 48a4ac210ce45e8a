"""Loading a frozen causal LM (hub id, local directory, or an offline GGUF package such as
``smollm2-135m``) for reading its hidden states or attention, with one-line errors."""
from __future__ import annotations

from ..errors import LlmrankError
from .resolve import load_error, resolve_causal_lm


def load_causal_lm(name: str, device: str = "cpu", dtype=None):
    """(tokenizer, model) in eval mode; attention runs as SDPA unless a caller switches it."""
    from transformers import AutoTokenizer

    return _loaded(name, AutoTokenizer), load_causal_model(name, device, dtype)


def load_causal_model(name: str, device: str = "cpu", dtype=None):
    """The model alone, for a caller that holds its tokenizer (a GGUF file's is a second parse)."""
    from transformers import AutoModelForCausalLM

    from .devices import use_all_cores

    use_all_cores()
    model = _loaded(name, AutoModelForCausalLM, attn_implementation="sdpa")
    if not hasattr(model, "model"):
        raise LlmrankError(f"model {name!r} has no decoder stack (model.model) to read")
    if dtype is not None:
        model.to(dtype)
    return model.to(device).eval()


def _loaded(name: str, auto, **kwargs):
    """``auto.from_pretrained`` of the named LM (a GGUF file's too), its errors one line."""
    import contextlib
    import io

    path, gguf = resolve_causal_lm(name)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the GGUF dequantisation's own progress bar
            return auto.from_pretrained(path, **({"gguf_file": gguf} if gguf else {}), **kwargs)
    except (OSError, ValueError) as exc:
        raise load_error(name, exc) from None


def cache_keyword(body) -> str:
    """The name a decoder stack's forward gives its KV cache (``cache`` in transformers 5.x,
    ``past_key_values`` before)."""
    import inspect

    return "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"
