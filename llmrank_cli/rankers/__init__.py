"""Every ranker by name: one module each in this package, one registry filled by
``@register``. Modules are found by listing the package, so adding a ranker is adding a file.

Names resolve through aliases (``tier3`` -> ``llm-cross-encoder``, ``cross`` -> ``cross-encoder``);
a preset registers one class under another name with other default settings.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..errors import LlmrankError
from .base import Ranker, Runtime, Settings, read_manifest, setting

__all__ = ["Ranker", "Runtime", "Settings", "create", "get", "load", "names", "register", "setting", "settings_for"]

_REGISTRY: dict[str, type] = {}
_ALIASES: dict[str, str] = {}
_PRESETS: dict[str, dict] = {}
_loaded = False


def register(name: str, aliases: tuple[str, ...] = (), preset: dict | None = None):
    """Class decorator: file ``cls`` under ``name`` (and ``aliases``); ``preset`` overrides the
    defaults of its settings for this name. Stackable, one decorator per preset."""
    def wrap(cls):
        _REGISTRY[name] = cls
        _PRESETS[name] = dict(preset or {})
        for alias in aliases:
            _ALIASES[alias] = name
        if "name" not in vars(cls):  # the first (innermost) name is the class's own, not its parent's
            cls.name = name
        return cls
    return wrap


def _discover() -> None:
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True


def names(candidates: str | None = None, trains_on: type | None = None) -> list[str]:
    """Registered names, optionally only those scoring these candidates or learning from this
    example type."""
    _discover()
    return sorted(n for n, cls in _REGISTRY.items()
                  if candidates in (None, cls.candidates) and trains_on in (None, cls.trains_on))


def aliases_of(name: str) -> list[str]:
    _discover()
    return sorted(a for a, n in _ALIASES.items() if n == name)


def canonical(name: str) -> str:
    _discover()
    name = _ALIASES.get(name, name)
    if name not in _REGISTRY:
        choices = ", ".join(names() + sorted(_ALIASES))
        raise LlmrankError(f"unknown ranker {name!r}; choose from {choices}")
    return name


def get(name: str) -> type:
    return _REGISTRY[canonical(name)]


def preset(name: str) -> dict:
    return dict(_PRESETS[canonical(name)])


def settings_for(name: str, **given):
    """The named ranker's settings: its preset's defaults, then every given value that is not None."""
    cls = get(name)
    values = {**preset(name), **{k: v for k, v in given.items() if v is not None}}
    settings = cls.Settings(**values)
    settings.check()
    return settings


def create(name: str, runtime: Runtime = Runtime(), **given) -> Ranker:
    """A fresh, untrained ranker of the named kind."""
    ranker = get(name)(settings_for(name, **given), runtime)
    ranker.name = canonical(name)
    return ranker


def load(directory, runtime: Runtime = Runtime()) -> Ranker:
    """The ranker saved in ``directory`` (by `llmrank train`), from its manifest; one note when it
    was trained under other versions or on another ISA than this process has."""
    from ..manifest import made_elsewhere
    from ..progress import note

    manifest = read_manifest(directory)
    if manifest is None:
        raise LlmrankError(f"{directory}: no model.json; train a model with `llmrank train`")
    name = manifest.get("ranker")
    if name is None:
        raise LlmrankError(f"{directory}: its model.json names no ranker; train the model again with `llmrank train`")
    ranker = get(name).load(directory, manifest, runtime)
    ranker.name = canonical(name)
    elsewhere = made_elsewhere(manifest.get("versions", {}))
    if elsewhere:
        note(f"llmrank: note: {directory} was trained under {elsewhere}: its scores may differ from the "
             f"trained run's in the last digits, and rankings where scores nearly tie")
    return ranker
