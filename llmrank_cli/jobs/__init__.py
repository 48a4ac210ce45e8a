"""Typed jobs: one dataclass per verb, its fields declared once with the metadata the rankers'
settings use (help, default, range, choices, paths that must exist), read by three users: the
command's flags are generated from it (``cli/flags.py``), the pipeline takes it whole (never a
namespace), and the Python API builds it from keyword arguments (``verbs.py``).
:meth:`Job.check` runs as the flags are parsed, before any file is read or written.

``scoring``: rank, rerank; ``training``: train and cv of each kind of ranker; ``data``: the
prepare commands that write data directories; ``evaluation``: eval.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings, setting, term


@dataclass
class Job(Settings):
    """What every job checks when parsed: its own ranges and choices (Settings.check), what
    :meth:`check_more` adds (the device, flags that go together), then that its inputs exist."""

    def check(self) -> "Job":
        super().check()
        self.check_more()
        self.check_paths()
        return self

    def check_more(self) -> None:
        """Checks beyond ranges and choices, still before any file is read."""


def _available(device: str) -> None:
    from ..kit.devices import check_device

    check_device(device)


@dataclass
class DeviceFields(Job):
    """Where a model runs: checked when parsed (a missing GPU is one line before any data)."""

    device: str = term("device")

    def check_more(self) -> None:
        super().check_more()
        _available(self.device)


@dataclass
class RuntimeFields(DeviceFields):
    """Where and in which precision a model runs."""

    dtype: str = term("dtype", choices=("auto", "fp32", "bf16", "fp16"))


def output(help: str, default: str | None = None):
    """The -o/--output field: a file (``default`` "-": stdout) or a required directory."""
    return setting(default, help, names=("-o", "--output"), required=default is None)


def resume(detail: str):
    return term("resume", detail, names=("--resume",))
