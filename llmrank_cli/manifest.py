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
    """Python's and the key libraries' versions, torch's thread count, the lock the environment
    was installed from and the CPU: what a number depends on beyond the code (float kernels
    differ by vector ISA)."""
    out = {"python": platform.python_version()}
    for lib in libraries:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    if "torch" in sys.modules:  # float results of some kinds depend on it (docs/rankers.md#determinism)
        out["threads"] = sys.modules["torch"].get_num_threads()
    return {**out, "lock": installed_lock(), "cpu": cpu()}


def installed_lock() -> str:
    """The hash of constraints.txt that commands/setup.sh installed this environment from
    (``unlocked``: the newest versions; ``unknown``: not installed by setup.sh)."""
    from pathlib import Path

    marker = Path(sys.prefix) / "llmrank-lock"
    return marker.read_text().strip() if marker.is_file() else "unknown"


def cpu() -> str:
    """The CPU's model name and widest vector ISA (AMX, AVX-512, AVX2, NEON), from /proc/cpuinfo."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith(("model name", "Model", "CPU part"))), platform.machine())
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines()
                      if line.startswith(("flags", "Features"))), []))
    isa = next((label for flag, label in (("amx_tile", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2"),
                                          ("asimd", "NEON")) if flag in flags), "no vector extension named")
    return f"{name} ({isa})"


# What a model's float outputs depend on beyond its files: the kernels' libraries and the ISA.
NUMERICS = ("torch", "transformers", "sentence-transformers", "numpy")


def numerics(recorded: dict | None = None) -> dict[str, str]:
    """Those versions and the ISA, of this process or (``recorded``) of a manifest's versions."""
    source = recorded if recorded is not None else versions(NUMERICS)
    out = {k: source[k] for k in NUMERICS if k in source}
    if "cpu" in source:
        out["isa"] = source["cpu"].rsplit("(", 1)[-1].rstrip(")")
    return out


def numerics_key() -> str:
    """A short name of :func:`numerics`, for caches whose bytes depend on them."""
    import hashlib

    return hashlib.sha256(json.dumps(numerics(), sort_keys=True).encode()).hexdigest()[:8]


def made_elsewhere(recorded: dict) -> str | None:
    """How the versions and ISA a manifest records differ from this process's, or None."""
    then, now = numerics(recorded), numerics()
    differ = [f"{k} {then[k]} (here {now[k]})" for k in now if k in then and then[k] != now[k]]
    return ", ".join(differ) or None


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
