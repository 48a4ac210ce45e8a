"""Passage collections: JSONL (``{"id", "contents"}`` and the usual key variants) or TSV
(``pid<TAB>text``), ``.gz`` or not. Streamed: only the wanted passages are kept."""
from __future__ import annotations

import json

from ..errors import InputError
from .io import display_name, iter_lines

ID_KEYS = ("id", "docid", "doc_id", "_id", "pid", "docno")
TEXT_KEYS = ("contents", "text", "body", "passage")


def _json_passage(line: str, name: str, lineno: int) -> tuple[str, str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(name, lineno, f"invalid JSON ({exc.msg})") from None
    docid = next((obj[k] for k in ID_KEYS if k in obj), None) if isinstance(obj, dict) else None
    if docid is None:
        raise InputError(name, lineno, f"needs an id key ({'/'.join(ID_KEYS)})")
    text = next((obj[k] for k in TEXT_KEYS if k in obj), None)
    title = obj.get("title")
    if text is None and title is None:
        raise InputError(name, lineno, f"needs a text key ({'/'.join(TEXT_KEYS)}) or a title")
    text = " ".join(str(t) for t in (title, text) if t)
    return str(docid), text


def read_passages(path, wanted: set[str] | None = None) -> dict[str, str]:
    """docid -> text for the wanted ids (all when ``wanted`` is None)."""
    name = display_name(path)
    out: dict[str, str] = {}
    kind = None
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        if kind is None:
            kind = "jsonl" if line.lstrip().startswith("{") else "tsv"
        if kind == "jsonl":
            docid, text = _json_passage(line, name, lineno)
        else:
            docid, sep, text = line.partition("\t")
            if not sep:
                raise InputError(name, lineno, "expected 'id<TAB>text' or a JSON object")
        if wanted is None or docid in wanted:
            out[docid] = text
    return out
