"""Item-ranking architectures by name, one module each, in a registry filled by decorators.
CLI names and the track literature's aliases (baseline, tier1, tier2, tier3) resolve here.

A model has ``fit(data, train_idx, seed, progress)``, ``score(embeddings, texts)`` (one row of
item scores per query), ``config()``, ``save(dir, manifest)`` and ``load(dir, meta)``."""
from __future__ import annotations

from ..errors import LlmrankError

_REGISTRY: dict[str, type] = {}
ALIASES = {"baseline": "two-tower-baseline", "tier1": "two-tower-tier1", "tier2": "two-tower-tier2",
           "tier3": "llm-cross-encoder"}


def register(*names: str):
    def wrap(cls):
        for name in names:
            _REGISTRY[name] = cls
        return cls
    return wrap


def _load_modules() -> None:
    from . import llm_cross_encoder, prior, random_order, two_tower  # noqa: F401


def names() -> list[str]:
    _load_modules()
    return sorted(_REGISTRY) + sorted(ALIASES)


def create(name: str, **options):
    """A fresh, untrained model of the named architecture (aliases allowed)."""
    _load_modules()
    canonical = ALIASES.get(name, name)
    if canonical not in _REGISTRY:
        raise LlmrankError(f"unknown architecture {name!r}; choose from {', '.join(names())}")
    return _REGISTRY[canonical](canonical, **options)


def load(model_dir: str):
    import json
    from pathlib import Path

    manifest = Path(model_dir) / "model.json"
    if not manifest.exists():
        raise LlmrankError(f"{model_dir}: no model.json; train a model with `llmrank train`")
    meta = json.loads(manifest.read_text())
    _load_modules()
    return _REGISTRY[meta["architecture"]].load(model_dir, meta)
