"""Loading a frozen causal LM (hub id, local directory, or an offline GGUF package such as
``smollm2-135m``) for reading its hidden states or attention, with one-line errors."""
from __future__ import annotations

from pathlib import Path

from ..errors import LlmrankError
from .resolve import load_error, resolve_causal_lm


def load_causal_lm(name: str, device: str = "cpu", dtype=None):
    """(tokenizer, model) in eval mode; attention runs as SDPA unless a caller switches it."""
    from transformers import AutoTokenizer

    return loaded(name, AutoTokenizer), load_causal_model(name, device, dtype)


def load_causal_model(name: str, device: str = "cpu", dtype=None):
    """The model alone, for a caller that holds its tokenizer."""
    from transformers import AutoModelForCausalLM

    from .devices import use_all_cores

    use_all_cores()
    model = loaded(name, AutoModelForCausalLM, weights=True, attn_implementation="sdpa")
    if not hasattr(model, "model"):
        raise LlmrankError(f"model {name!r} has no decoder stack (model.model) to read")
    if dtype is not None:
        model.to(dtype)
    return model.to(device).eval()


def loaded(name: str, auto, weights: bool = False, **kwargs):
    """``auto.from_pretrained`` of the named LM (a GGUF file's from its kept directory, with the
    weights where ``weights``), its errors one line."""
    import contextlib
    import io

    path, gguf = resolve_causal_lm(name)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # transformers' progress bars (dequantisation, loading)
            return auto.from_pretrained(gguf_as_transformers(Path(path) / gguf, weights) if gguf else path, **kwargs)
    except (OSError, ValueError) as exc:
        raise load_error(name, exc) from None


def gguf_as_transformers(gguf: Path, weights: bool) -> Path:
    """A GGUF file as transformers' own files, kept under the cache root: transformers parses the
    whole file for the tokenizer, again for the config, and dequantises it on every model load
    (SmolLM2-135M's: about 4 s apiece and 12 s on 2 cores), while a directory loads in well under
    a second. Tokenizer and config are kept on first use (a fully cached rerank needs nothing
    else); the weights, float32 as transformers dequantises them, on the first model load."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from ..formats.io import atomic_directory
    from .resolve import files_key
    from .response_cache import default_dir

    kept = default_dir() / "gguf" / files_key(str(gguf), (gguf.stat().st_size, gguf.stat().st_mtime_ns))
    if not (kept / "config.json").exists():
        with atomic_directory(kept, "config.json") as work:  # config.json, last in, marks it whole
            AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(work)
            config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
            if not config.architectures:  # a GGUF file names none; sentence-transformers picks a class by it
                config.architectures = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
            config.save_pretrained(work)
    if weights and not (kept / "model.safetensors").exists():
        from safetensors.torch import save_model

        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        with atomic_directory(kept, "model.safetensors") as work:
            save_model(model, str(work / "model.safetensors"))  # tied tensors once, as transformers reties them
    return kept


def cache_keyword(body) -> str:
    """The name a decoder stack's forward gives its KV cache (``cache`` in transformers 5.x,
    ``past_key_values`` before)."""
    import inspect

    return "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"
