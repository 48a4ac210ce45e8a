"""Opening inputs and writing outputs the same way everywhere.

Inputs may be a path, a ``.gz`` path, or ``-`` for stdin. Outputs are written
atomically (a temporary file beside the target, renamed on success), so a
failed or interrupted job never truncates an existing file; ``-`` is stdout.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator

from ..errors import InputError, LlmrankError

STDIO = "-"


def display_name(path: str | os.PathLike) -> str:
    return "<stdin>" if str(path) == STDIO else str(path)


def read_bytes(path: str | os.PathLike) -> bytes:
    """Whole input as bytes, decompressing ``.gz`` (by name or magic bytes)."""
    if str(path) == STDIO:
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputError(str(path), None, "no such file") from None
        except IsADirectoryError:
            raise InputError(str(path), None, "is a directory, expected a file") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(display_name(path), None, f"corrupt gzip data ({exc})") from None
    return data


def read_text(path: str | os.PathLike) -> str:
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(display_name(path), line, "not valid UTF-8") from None


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line number, line without newline), streaming — memory does not grow with the file."""
    if str(path) == STDIO:
        stream: IO[str] = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig")
    else:
        p = Path(path)
        if not p.exists():
            raise InputError(str(path), None, "no such file")
        with open(p, "rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        stream = gzip.open(p, "rt", encoding="utf-8-sig") if gz else open(p, encoding="utf-8-sig")
    with stream:
        lineno = 0
        try:
            for lineno, line in enumerate(stream, 1):
                yield lineno, line.rstrip("\r\n")
        except UnicodeDecodeError:
            raise InputError(display_name(path), lineno + 1, "not valid UTF-8") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_object(line: str, name: str, lineno: int) -> dict:
    """One JSONL line as a dict, or an InputError naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(name, lineno, f"invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise InputError(name, lineno, "expected a JSON object")
    return obj


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Write to ``path`` all-or-nothing; ``.gz`` compresses; ``-`` is stdout."""
    if str(path) == STDIO:
        stream = sys.stdout.buffer if "b" in mode else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    if target.is_dir():
        raise LlmrankError(f"{target}: is a directory, expected an output file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise _cannot_write(target, exc) from exc
        raise
    os.chmod(tmp, 0o666 & ~_umask())
    synced = os.dup(fd)  # the streams close fd; this one syncs the file after them
    try:
        with os.fdopen(fd, "wb") as base:
            raw = gzip.GzipFile(filename="", mode="wb", fileobj=base, mtime=0) if target.suffix == ".gz" else base
            stream = raw if "b" in mode else io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            yield stream
            stream.close()
            raw.close()
        os.fsync(synced)  # on disk before the rename: a crash leaves the old file or the new one, whole
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in _REFUSED:
            raise _cannot_write(target, exc) from exc
        raise
    finally:
        os.close(synced)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, last: str) -> Iterator[Path]:
    """Build a directory all-or-nothing in a hidden sibling (``.NAME.PID.partial``): a failure
    removes it, a killed build's is removed by the next (its process gone), and a finished one
    takes the name. Into an existing directory the new files move one by one, ``last`` (the
    file that marks it complete) removed first and moved in last: other files there are kept."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise LlmrankError(f"{target}: exists and is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.partial"):
        pid = stale.name[len(target.name) + 2:-len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    work = target.parent / f".{target.name}.{os.getpid()}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        yield work
        if not target.exists():
            os.rename(work, target)
            return
        (target / last).unlink(missing_ok=True)
        for entry in sorted(work.iterdir(), key=lambda e: e.name == last):
            if (target / entry.name).is_dir():
                shutil.rmtree(target / entry.name)
            os.replace(entry, target / entry.name)
        work.rmdir()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (PermissionError: it does)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


_REFUSED = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _cannot_write(target: Path, exc: OSError) -> LlmrankError:
    """A full disk, a read-only or forbidden directory: one line; the old file (if any) is intact."""
    kept = "the existing file is unchanged" if target.exists() else "nothing was written"
    return LlmrankError(f"{target}: cannot write: {exc.strerror} ({kept})")


_CLAIMS: dict[str, int] = {}  # directories this process holds: path -> the open descriptor its lock is on


def busy(path) -> LlmrankError:
    return LlmrankError(f"{path} is being written by another llmrank process: wait for it to finish, or write "
                        f"elsewhere")


def claim(directory: str | os.PathLike) -> None:
    """Hold the existing ``directory`` for this process until it exits: another llmrank claiming
    it meanwhile is refused in one line (not told to --resume work that is running). The lock
    goes with the process, so a killed job leaves none behind."""
    import fcntl

    key = os.path.realpath(directory)
    if key in _CLAIMS:
        if os.path.samestat(os.fstat(_CLAIMS[key]), os.stat(key)):
            return
        os.close(_CLAIMS.pop(key))  # a directory of the same name made since (the held one was removed)
    fd = os.open(key, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise busy(directory) from None
    _CLAIMS[key] = fd
