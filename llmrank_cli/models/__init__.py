"""Rerankers by kind, in a registry filled by decorators (``--kind`` choices come from it).

Each kind lives in its own module and imports torch only when a model is loaded, so
listing kinds stays cheap.
"""
from __future__ import annotations

from typing import Callable

_KINDS: dict[str, Callable] = {}


def register(kind: str):
    def wrap(cls):
        _KINDS[kind] = cls
        return cls
    return wrap


def kinds() -> list[str]:
    from . import bi_encoder, cross_encoder  # noqa: F401  (fills the registry)
    return sorted(_KINDS)


def load_reranker(kind: str, model: str, **options):
    from ..errors import LlmrankError

    if kind not in kinds():
        raise LlmrankError(f"unknown reranker kind {kind!r}; choose from {', '.join(kinds())}")
    return _KINDS[kind].load(model, **options)
