"""CLI flags generated from a ranker's settings dataclass: one typer option per field, with its
help, its preset's default in the help, and the values it allows. A flag left out is None, so
the ranker keeps its preset's value; list fields are given comma-separated (``--mlp 768,384``)."""
from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Callable, List, Optional

import typer

from ..errors import LlmrankError
from ..settings import flag_name


def _base_type(hint) -> type:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) is typing.Union and args else hint


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value).lower() if isinstance(value, bool) else "none" if value is None else str(value)


def setting_fields(settings_cls: type, scoring_only: bool = False) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(settings_cls) if f.metadata.get("scoring") or not scoring_only]


def parameters(settings_cls: type, preset: dict, scoring_only: bool = False, owner: str = "") -> list:
    """inspect.Parameters (typer options) for the settings' fields."""
    hints = typing.get_type_hints(settings_cls)
    params = []
    for f in setting_fields(settings_cls, scoring_only):
        kind = _base_type(hints[f.name])
        default = preset.get(f.name, f.default if f.default is not dataclasses.MISSING else f.default_factory())
        meta = f.metadata
        text = (f"--kind {owner}: " if owner else "") + meta["help"] + ("" if meta.get("required") else
                                                                         f" (default: {_shown(default)})")
        flags = meta.get("names") or (f"--{flag_name(f.name)}",)
        required = ... if meta.get("required") else None
        if meta.get("argument"):
            option = typer.Argument(required, help=text, show_default=False)
            annotation = List[str] if kind is list else Optional[str]
        elif meta.get("repeated"):
            option = typer.Option(None, *flags, help=text, show_default=False)
            annotation = Optional[List[str]]
        elif kind is bool:  # --x/--no-x, or the names given (a bare switch: --resume)
            names = meta.get("names") or (f"{flags[0]}/--no-{flag_name(f.name)}",)
            option = typer.Option(None, *names, help=text, show_default=False)
            annotation = Optional[bool]
        elif kind in (int, float):
            option = typer.Option(required, *flags, help=text, min=meta.get("min"), max=meta.get("max"),
                                  show_default=False)
            annotation = Optional[kind]
        else:  # str and comma-separated lists
            option = typer.Option(required, *flags, help=text, show_default=False)
            annotation = Optional[str]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=annotation))
    return params


def values(settings_cls: type, given: dict) -> dict:
    """Flag values -> settings values (lists parsed); flags not given are left out."""
    hints = typing.get_type_hints(settings_cls)
    out = {}
    for name, value in given.items():
        if value is None:
            continue
        if isinstance(value, tuple):  # a repeated flag or an argument's values
            value = list(value)
        if _base_type(hints[name]) is list and not isinstance(value, list):  # comma-separated
            kind = _element_type(settings_cls, name)
            try:
                value = [kind(x) for x in str(value).split(",") if x.strip()]
            except ValueError:
                raise LlmrankError(f"--{flag_name(name)} takes comma-separated {kind.__name__}s, not {value!r}"
                                   .replace("ints", "integers")) from None
        out[name] = value
    return out


def _element_type(settings_cls: type, name: str) -> type:
    """float for a list field whose default holds floats (weights), else int (layer sizes)."""
    field = settings_cls.__dataclass_fields__[name]
    default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    return float if any(isinstance(x, float) for x in default) else int


def job_command(job_cls: type, extra: list, body: Callable, doc: str,
                check_extra: Callable | None = None) -> Callable:
    """A typer command whose flags are ``job_cls``'s fields, --quiet (its callback sets it), then
    ``extra`` (a ranker's settings); ``body(job, extra values)`` gets the job checked, before
    anything is read (``check_extra(job, extra values)`` first, where the extra flags need it)."""
    from .options import QUIET

    job_names = set(job_cls.__dataclass_fields__)
    quiet = inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=QUIET, annotation=bool)

    def run(**given):
        job = job_cls(**values(job_cls, {k: v for k, v in given.items() if k in job_names}))
        rest = {k: v for k, v in given.items() if k not in job_names | {"quiet"}}
        if check_extra:
            check_extra(job, rest)
        return body(job.check(), rest)

    run.__signature__ = inspect.Signature(parameters(job_cls, {}) + [quiet] + extra)
    run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}
    run.__doc__ = doc
    return run
