"""Settings dataclasses whose fields carry their flag's help and allowed values (rankers' and
trainers' alike: ``cli/flags.py`` turns them into flags, manifests record them), and the
runtime (device, precision) a model runs in."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import LlmrankError


def setting(default, help: str, *, choices: tuple = (), min: float | None = None, scoring: bool = False,
            required: bool = False, names: tuple = ()):
    """A settings field: its default, its flag's help, the values it allows; ``scoring`` marks a
    field that matters when scoring (it becomes a `rerank` flag), not only in training;
    ``required`` makes its flag mandatory; ``names`` spells the flag otherwise (``-o``, ``--output``)."""
    meta = {"help": help, "choices": tuple(choices), "min": min, "scoring": scoring, "required": required,
            "names": tuple(names)}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class Settings:
    """No settings (rankers with nothing to tune)."""

    def check(self) -> None:
        for f in dataclasses.fields(self):
            value, choices, low = getattr(self, f.name), f.metadata.get("choices"), f.metadata.get("min")
            if choices and value not in choices:
                raise LlmrankError(f"--{flag_name(f.name)} must be one of {', '.join(map(str, choices))}, "
                                   f"not {value!r}")
            if low is not None and value is not None and value < low:
                raise LlmrankError(f"--{flag_name(f.name)} must be at least {low:g}, not {value!r}")


def flag_name(field_name: str) -> str:
    return field_name.replace("_", "-")


@dataclass(frozen=True)
class Runtime:
    """Where and in which precision a ranker with weights runs (``--device``, ``--dtype``), and for
    the encoder rankers, by which engine (``--backend``, ``--quantize``: ``kit/backends.py``)."""

    device: str = "auto"
    dtype: str = "auto"
    backend: str = "torch"
    quantize: str = "none"
