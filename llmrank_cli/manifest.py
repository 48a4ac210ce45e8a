"""A small JSON manifest beside every run and model: what made it, with which settings,
seed and library versions, so a result can be reproduced."""
from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata

from .formats.io import atomic_output

_LIBRARIES = ("llmrank", "numpy", "pyarrow", "torch", "transformers", "sentence-transformers", "ir-measures")


def versions(libraries: tuple[str, ...] = _LIBRARIES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in libraries:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


def fingerprint(*paths) -> str:
    """A short hash of input files' bytes: equal inputs, equal fingerprint."""
    import hashlib

    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def write_manifest(path, what: str, config: dict, **fields) -> None:
    """``fields`` go at the top level beside ``config`` (a model's ``ranker`` and ``settings``)."""
    record = {**fields, "what": what, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": ["llmrank", *sys.argv[1:]], "config": config, "versions": versions()}
    with atomic_output(path) as out:
        json.dump(record, out, indent=2, default=str)
        out.write("\n")
