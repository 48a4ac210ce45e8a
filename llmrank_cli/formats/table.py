"""Whitespace-separated tables (runs, qrels) read into Arrow columns.

The fast path hands the bytes to pyarrow's multi-threaded CSV reader; strings
stay in Arrow buffers, so memory follows the data, not the line count. When the
fast path cannot be used (comments, mixed whitespace) or the file is malformed,
a line-by-line reader parses it and names the exact ``FILE:LINE`` at fault.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError
from .io import display_name, read_bytes


@dataclass(frozen=True)
class Column:
    name: str
    position: int  # 0-based field index in the line
    type: pa.DataType
    parse: Callable[[str], object]  # slow-path parser; raises ValueError with a reason


def arrow_without_pandas() -> None:
    """Tell pyarrow that pandas is absent, unless it is already imported: pyarrow imports pandas
    (0.3 s, most of a small ``eval``) the first time it builds an array or checks one for pandas
    objects, and does not try again once that import has failed. For processes that hand pyarrow
    numpy arrays and lists only (the light commands); ``to_pandas()`` still imports pandas."""
    import sys

    class NoPandas:
        def find_spec(self, name, path=None, target=None):
            if name == "pandas":
                raise ImportError("pandas deferred")

    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, NoPandas())
    try:
        pa.lib._pandas_api.have_pandas  # the Python-side check
        pa.array(["x"])                 # the C++ side's, at its first conversion
    except AttributeError:  # another pyarrow: it may import pandas, which costs time only
        pass
    finally:
        sys.meta_path = [f for f in sys.meta_path if not isinstance(f, NoPandas)]


def parse_int(token: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(f"expected an integer, got {token!r}") from None


def parse_float(token: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"expected a number, got {token!r}") from None


def load(path) -> str | bytes:
    """A plain file stays a path (pyarrow reads it without a copy); stdin and gzip become bytes."""
    if str(path) != "-":
        try:
            with open(path, "rb") as f:
                if f.read(2) != b"\x1f\x8b":
                    return str(path)
        except OSError:
            pass  # read_bytes names the problem
    return read_bytes(path)


def _lines(src: str | bytes):
    return io.BytesIO(src) if isinstance(src, bytes) else open(src, "rb")


def first_data_line(src: str | bytes) -> str | None:
    with _lines(src) as stream:
        return next((line for line in (raw.decode("utf-8", "replace").strip() for raw in stream)
                     if line and not line.startswith("#")), None)


def _delimiter(line: str, n_fields: int) -> str | None:
    """A single-character delimiter that splits this line cleanly, if there is one."""
    for delim in ("\t", " "):
        parts = line.split(delim)
        if len(parts) == n_fields and all(parts):
            other = " " if delim == "\t" else "\t"
            return None if other in line else delim
    return None


def read_table(path, columns: Sequence[Column], n_fields: int, what: str,
               extra_fields_ok: bool = False, src: str | bytes | None = None) -> pa.Table:
    """Read the given columns of a whitespace-separated file with ``n_fields`` fields a line."""
    name = display_name(path)
    src = load(path) if src is None else src
    line = first_data_line(src)
    if line is None:
        return pa.table({c.name: pa.array([], c.type) for c in columns})
    found = len(line.split())
    delim = _delimiter(line, found) if (found == n_fields or (extra_fields_ok and found > n_fields)) else None
    if delim is not None:
        try:
            table = pacsv.read_csv(
                io.BytesIO(src) if isinstance(src, bytes) else src,
                read_options=pacsv.ReadOptions(column_names=[f"f{i}" for i in range(found)]),
                parse_options=pacsv.ParseOptions(delimiter=delim, quote_char=False, double_quote=False,
                                                 ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(
                    include_columns=[f"f{c.position}" for c in columns],
                    column_types={f"f{c.position}": c.type for c in columns},
                    strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[],
                ),
            ).rename_columns([c.name for c in columns])
            first = table[columns[0].name]
            if not pc.any(pc.starts_with(first, "#")).as_py():  # comment lines need the slow path
                return table
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # the slow path finds and names the bad line
    return _read_slow(src if isinstance(src, bytes) else read_bytes(path), name, columns, n_fields, what,
                      extra_fields_ok)


def _read_slow(data: bytes, name: str, columns: Sequence[Column], n_fields: int, what: str,
               extra_fields_ok: bool) -> pa.Table:
    values: list[list] = [[] for _ in columns]
    for lineno, raw in enumerate(io.BytesIO(data), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(name, lineno, "not valid UTF-8") from None
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < n_fields or (len(fields) > n_fields and not extra_fields_ok):
            raise InputError(name, lineno, f"expected {n_fields} fields for {what}, found {len(fields)}")
        for out, col in zip(values, columns):
            try:
                out.append(col.parse(fields[col.position]))
            except ValueError as exc:
                raise InputError(name, lineno, f"{col.name}: {exc}") from None
    return pa.table({c.name: pa.array(v, c.type) for c, v in zip(columns, values)})


@dataclass(frozen=True)
class Source:
    """Where a table came from, to name lines in later errors without holding the bytes:
    a path is re-read on error; stdin, which cannot be re-read, keeps its bytes."""

    name: str
    path: str | None = None
    data: bytes | None = None

    @classmethod
    def of(cls, path, src: str | bytes) -> "Source":
        return cls(display_name(path), data=src) if str(path) == "-" else cls(display_name(path), path=str(path))

    def line(self, row: int) -> int | None:
        data = self.data if self.data is not None else (read_bytes(self.path) if self.path else None)
        return None if data is None else line_of_row(data, row)

    def error(self, row: int, problem: str) -> InputError:
        return InputError(self.name, self.line(row), problem)


def fingerprint(column) -> np.ndarray:
    """A 64-bit key per string from its length and first and last 8 bytes, read straight from the
    Arrow buffers (no hashing of whole strings): equal strings get equal keys, and the rare
    unequal strings that share one are told apart by :func:`first_duplicate`."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return np.concatenate([_fingerprint_chunk(c if pa.types.is_string(c.type) else c.cast(pa.string()))
                           for c in chunks] or [np.zeros(0, np.uint64)])


def _fingerprint_chunk(arr: pa.Array) -> np.ndarray:
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
    data = arr.buffers()[2]
    padded = np.zeros(offsets[-1] - offsets[0] + 16, np.uint8)
    if data is not None:
        padded[8:-8] = np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]]
    window = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from any offset
    start, length = offsets[:-1] - offsets[0] + 8, np.diff(offsets)
    head = window[start] & _MASKS[np.minimum(length, 8)]
    long = np.flatnonzero(length > 8)
    if len(long):  # and the last 8 bytes
        head[long] ^= _mix(window[start[long] + length[long] - 8])
    return _mix(head ^ _mix(length.astype(np.uint64)))


_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)  # low i bytes


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the key."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def first_duplicate(table: pa.Table, a: str, b: str) -> int | None:
    """Row index of the first row repeating an earlier (a, b) pair, or None: one sort of 64-bit
    fingerprints; the rows whose fingerprints repeat are then compared as strings."""
    if table.num_rows < 2:
        return None
    with np.errstate(over="ignore"):
        key = _mix(fingerprint(table[a]) * np.uint64(0x9E3779B97F4A7C15) ^ fingerprint(table[b]))
    ordered = np.sort(key)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(repeated):
        return None
    rows = np.flatnonzero(np.isin(key, repeated))  # candidates, in file order
    pairs = zip(table[a].take(pa.array(rows)).to_pylist(), table[b].take(pa.array(rows)).to_pylist())
    seen: set = set()
    for row, pair in zip(rows, pairs):
        if pair in seen:
            return int(row)
        seen.add(pair)
    return None


def line_of_row(data: bytes, row: int) -> int | None:
    """The file line holding the ``row``-th data line (0-based), for error messages."""
    seen = -1
    for lineno, raw in enumerate(io.BytesIO(data), 1):
        stripped = raw.strip()
        if stripped and not stripped.startswith(b"#"):
            seen += 1
            if seen == row:
                return lineno
    return None

