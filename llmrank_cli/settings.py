"""Settings dataclasses whose fields carry their flag's help and allowed values (rankers' and
trainers' alike: ``cli/flags.py`` turns them into flags, manifests record them), and the
runtime (device, precision) a model runs in."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, LlmrankError


def setting(default, help: str, *, choices: tuple = (), min: float | None = None, max: float | None = None,
            scoring: bool = False, required: bool = False, names: tuple = (), exists: bool = False,
            argument: bool = False, repeated: bool = False):
    """A settings field: its default, its flag's help, the values it allows; ``scoring`` marks a
    field that matters when scoring (it becomes a `rerank` flag), not only in training;
    ``required`` makes its flag mandatory; ``names`` spells the flag otherwise (``-o``, ``--output``);
    ``exists``: a path (or several) that must exist when parsed (``-`` is stdin); ``argument``: a
    positional argument; ``repeated``: a list given by repeating the flag (``-m A -m B``), not
    comma-separated."""
    meta = {"help": help, "choices": tuple(choices), "min": min, "max": max, "scoring": scoring,
            "required": required, "names": tuple(names), "exists": exists, "argument": argument,
            "repeated": repeated}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class Settings:
    """No settings (rankers with nothing to tune)."""

    def check(self) -> None:
        """Ranges and choices of every field."""
        for f in dataclasses.fields(self):
            value, choices, low = getattr(self, f.name), f.metadata.get("choices"), f.metadata.get("min")
            if choices and value not in choices:
                raise LlmrankError(f"{_flag(f)} must be one of {', '.join(map(str, choices))}, "
                                   f"not {value!r}")
            if low is not None and value is not None and value < low:
                raise LlmrankError(f"{_flag(f)} must be at least {low:g}, not {value!r}")
            high = f.metadata.get("max")
            if high is not None and value is not None and value > high:
                raise LlmrankError(f"{_flag(f)} must be at most {high:g}, not {value!r}")

    def check_paths(self) -> None:
        """The paths that must exist (``-``: stdin)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("exists") and value is not None:
                for path in value if isinstance(value, list) else [value]:
                    # an ir_datasets id (formats/irds.PREFIX: formats sit above settings) is not a file
                    if path != "-" and not str(path).startswith("irds:") and not Path(path).exists():
                        raise InputError(path, None, "no such file" + (
                            "" if f.metadata.get("argument") else f" ({_flag(f)})"))


def flag_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def _flag(field: dataclasses.Field) -> str:
    """The flag a field is given by: its long name (``--format`` for ``fmt``)."""
    long = [n for n in field.metadata.get("names", ()) if n.startswith("--")]
    return long[0] if long else f"--{flag_name(field.name)}"


@dataclass(frozen=True)
class Term:
    """A flag with one meaning in every command: its help begins with ``meaning``; its
    ``default`` in every command (None: each command gives its own)."""

    meaning: str
    default: object


# The flags every command spells and means alike; fields declare them with :func:`term`, and a
# test walks every command's options against this table.
GLOSSARY = {
    "device": Term("auto, cpu, cuda or mps (under torchrun: each process's GPU).", "auto"),
    "dtype": Term("auto (bf16 on a GPU that has it, else fp32), fp32, bf16 or fp16.", "auto"),
    "seed": Term("Random seed", 0),
    "rel_level": Term("Lowest label counted relevant (trec_eval -l)", 1),
    "depth": Term("Each query's top N of the input run", None),  # 100 to rerank or train on; all to fuse
    "topics_format": Term("auto, tsv, sgml, xml, jsonl, csv or smart.", "auto"),
    "topics_field": Term("SGML/XML field: title, desc or narr.", "title"),
    "run_format": Term("auto, trec or msmarco.", "auto"),
    "resume": Term("Continue an interrupted", False),
    "quiet": Term("No progress bar or notes on stderr.", False),
}


def term(name: str, detail: str = "", default=None, **meta):
    """A field for the glossary's flag ``name`` (``detail`` follows its meaning in the help;
    ``default`` only where the glossary leaves it to the command)."""
    entry = GLOSSARY[name]
    return setting(entry.default if entry.default is not None else default, entry.meaning + detail, **meta)


@dataclass(frozen=True)
class Runtime:
    """Where and in which precision a ranker with weights runs (``--device``, ``--dtype``), and for
    the encoder rankers, by which engine (``--backend``, ``--quantize``: ``kit/backends.py``)."""

    device: str = "auto"
    dtype: str = "auto"
    backend: str = "torch"
    quantize: str = "none"
