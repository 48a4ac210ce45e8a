"""Topics in the shapes people have: TSV, TREC SGML, TREC/Anserini XML, JSONL, CSV.

The format is detected from the content (``--topics-format`` forces one); for
SGML/XML the field (title, desc, narr) is chosen by the caller.
"""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from typing import NamedTuple

from ..errors import InputError, LlmrankError
from . import irds
from .io import atomic_output, display_name, json_object, read_text

TOPIC_FORMATS = ("auto", "tsv", "sgml", "xml", "jsonl", "csv", "smart")
TOPIC_FIELDS = ("title", "desc", "narr")
ID_KEYS = ("qid", "query_id", "topic_id", "id", "_id", "number", "num")
TEXT_KEYS = ("text", "query", "question", "title")
# Element names per field in TREC SGML and Anserini/TREC XML topic files.
_FIELD_TAGS = {"title": ("title", "query"), "desc": ("desc", "description", "question"),
               "narr": ("narr", "narrative")}


class Topic(NamedTuple):
    qid: str
    text: str


def sniff_topics_format(text: str) -> str:
    head = text.lstrip()[:2000]
    low = head.lower()
    if low.startswith("<top>") or low.startswith("<top\n"):
        return "sgml"
    if low.startswith("<?xml") or low.startswith("<topics") or low.startswith("<topic "):
        return "xml"
    if head.startswith("{"):
        return "jsonl"
    if re.match(r"\.I\s", head):
        return "smart"
    first = head.splitlines()[0] if head else ""
    if "\t" in first:
        return "tsv"
    if "," in first and any(k in first.lower() for k in ID_KEYS):
        return "csv"
    return "tsv"


def read_topics(path, fmt: str = "auto", field: str = "title", number_by_position: bool = False) -> list[Topic]:
    """All topics of a file, in file order; empty texts are kept (``validate`` reports them).

    ``number_by_position`` renumbers topics 1..n in file order: Cranfield's qrels number
    queries that way while its ``.I`` ids skip numbers."""
    name = display_name(path)
    if field not in TOPIC_FIELDS:
        raise LlmrankError(f"unknown topic field {field!r}; choose from {', '.join(TOPIC_FIELDS)}")
    if irds.is_id(path):
        topics = [Topic(qid, text) for qid, text in irds.topics(path, field)]
    else:
        text = read_text(path)
        fmt = sniff_topics_format(text) if fmt == "auto" else fmt
        readers = {"tsv": _tsv, "sgml": _sgml, "xml": _xml, "jsonl": _jsonl, "csv": _csv, "smart": _smart}
        if fmt not in readers:
            raise LlmrankError(f"unknown topics format {fmt!r}; choose from {', '.join(TOPIC_FORMATS)}")
        topics = readers[fmt](text, name, field)
    if number_by_position:
        topics = [Topic(str(i), t.text) for i, t in enumerate(topics, 1)]
    seen: set[str] = set()
    for t in topics:
        if t.qid in seen:
            raise InputError(name, None, f"qid {t.qid} appears more than once")
        seen.add(t.qid)
    return topics


def _tsv(text: str, name: str, field: str) -> list[Topic]:
    topics = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        qid, sep, query = line.partition("\t")
        if not sep:
            raise InputError(name, lineno, "expected 'qid<TAB>text'")
        if lineno == 1 and qid.strip().lower() in ID_KEYS and query.strip().lower() in TEXT_KEYS:
            continue  # a header line
        topics.append(Topic(qid.strip(), query.strip()))
    return topics


def _clean(s: str) -> str:
    return " ".join(s.split())


def _sgml(text: str, name: str, field: str) -> list[Topic]:
    topics = []
    for match in re.finditer(r"<top>(.*?)</top>", text, flags=re.S | re.I):
        body = match.group(1)
        line = text[: match.start()].count("\n") + 1
        num = re.search(r"<num>\s*(?:Number:)?\s*([^<\s]+)", body, flags=re.I)
        if not num:
            raise InputError(name, line, "topic without <num>")
        tags = "|".join(_FIELD_TAGS[field])
        part = re.search(rf"<(?:{tags})>(.*?)(?=<|$)", body, flags=re.S | re.I)
        value = part.group(1) if part else ""
        value = re.sub(r"^\s*(Topic|Description|Narrative):", "", value, flags=re.I)
        topics.append(Topic(num.group(1), _clean(value)))
    if not topics and text.strip():
        raise InputError(name, 1, "no <top> ... </top> blocks found")
    return topics


def _xml(text: str, name: str, field: str) -> list[Topic]:
    try:
        root = ET.fromstring(text.lstrip())
    except ET.ParseError as exc:
        raise InputError(name, exc.position[0], f"malformed XML ({exc})") from None
    topics = []
    for topic in root.iter("topic"):
        qid = next((topic.get(k) for k in ("number", "id", "qid") if topic.get(k)), None)
        if qid is None:
            raise InputError(name, None, "a <topic> has no number/id attribute")
        node = next((topic.find(t) for t in _FIELD_TAGS[field] if topic.find(t) is not None), None)
        topics.append(Topic(qid.strip(), _clean(node.text or "") if node is not None else ""))
    return topics


def _record(obj: dict, name: str, line: int | None) -> Topic:
    qid = next((obj[k] for k in ID_KEYS if k in obj), None)
    text = next((obj[k] for k in TEXT_KEYS if k in obj), None)
    if qid is None or text is None:
        raise InputError(name, line, f"needs an id key ({'/'.join(ID_KEYS)}) and a text key ({'/'.join(TEXT_KEYS)})")
    return Topic(str(qid).strip(), _clean(str(text)))


def _jsonl(text: str, name: str, field: str) -> list[Topic]:
    topics = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        topics.append(_record(json_object(line, name, lineno), name, lineno))
    return topics


def _csv(text: str, name: str, field: str) -> list[Topic]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames:
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    return [_record(row, name, reader.line_num) for row in reader]


def _smart(text: str, name: str, field: str) -> list[Topic]:
    """SMART query files (.I id, then .W text; .T/.A/.B are ignored as in the documents' .W)."""
    from .corpus import _smart as smart_blocks

    lines = enumerate(text.splitlines(), 1)
    return [Topic(qid, body) for qid, body in smart_blocks(lines, name)]


def write_topics(topics: list[Topic], path) -> None:
    with atomic_output(path) as out:
        for t in topics:
            out.write(f"{t.qid}\t{_clean(t.text)}\n")
