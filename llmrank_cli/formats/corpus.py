"""Document collections, streamed: JSONL (``id``/``docid``/``_id`` + ``contents``/``text``/
``body``/``title``), MS MARCO TSV (``pid<TAB>text``), TREC SGML (``<DOC><DOCNO>``), SMART
(``.I/.T/.A/.B/.W`` as in Cranfield and CISI), each plain or ``.gz``. Memory does not grow
with the collection; ``write_corpus`` emits pyserini's JsonCollection (``{"id","contents"}``).
"""
from __future__ import annotations

import json
import re
from typing import Iterator

from ..errors import InputError, LlmrankError
from . import irds
from .io import atomic_output, display_name, iter_lines, json_object

CORPUS_FORMATS = ("auto", "jsonl", "tsv", "trec", "smart")
ID_KEYS = ("id", "docid", "doc_id", "_id", "pid", "docno")
TEXT_KEYS = ("contents", "text", "body", "passage")
TREC_TEXT_TAGS = ("TITLE", "HEADLINE", "HEAD", "TEXT")
SMART_TEXT_FIELDS = ("T", "W")  # title and abstract; .A authors, .B source, .X references are left out


def sniff_corpus_format(first_line: str) -> str:
    s = first_line.lstrip()
    if s.startswith("{"):
        return "jsonl"
    if s.upper().startswith("<DOC"):
        return "trec"
    if re.match(r"\.I\s", s + " "):
        return "smart"
    return "tsv"


def iter_documents(path, fmt: str = "auto") -> Iterator[tuple[str, str]]:
    """(docid, text) for every document, in file order (an ir_datasets id's: streamed)."""
    if irds.is_id(path):
        yield from irds.documents(path)
        return
    lines = iter_lines(path)
    name = display_name(path)
    first = next(((n, l) for n, l in lines if l.strip()), None)
    if first is None:
        return
    fmt = sniff_corpus_format(first[1]) if fmt == "auto" else fmt
    readers = {"jsonl": _jsonl, "tsv": _tsv, "trec": _trec, "smart": _smart}
    if fmt not in readers:
        raise LlmrankError(f"unknown corpus format {fmt!r}; choose from {', '.join(CORPUS_FORMATS)}")

    def chained():
        yield first
        yield from lines

    yield from readers[fmt](chained(), name)


def _jsonl(lines, name):
    for lineno, line in lines:
        if not line.strip():
            continue
        obj = json_object(line, name, lineno)
        docid = next((obj[k] for k in ID_KEYS if k in obj), None)
        if docid is None:
            raise InputError(name, lineno, f"needs an id key ({'/'.join(ID_KEYS)})")
        text = next((obj[k] for k in TEXT_KEYS if k in obj), None)
        title = obj.get("title")
        if text is None and title is None:
            raise InputError(name, lineno, f"needs a text key ({'/'.join(TEXT_KEYS)}) or a title")
        yield str(docid), " ".join(str(t) for t in (title, text) if t)


def _tsv(lines, name):
    for lineno, line in lines:
        if not line.strip():
            continue
        docid, sep, text = line.partition("\t")
        if not sep:
            raise InputError(name, lineno, "expected 'id<TAB>text'")
        yield docid.strip(), text.strip()


def _trec(lines, name):
    doc: list[str] | None = None
    start = 0
    for lineno, line in lines:
        upper = line.strip().upper()
        if upper.startswith("<DOC>") or upper == "<DOC":
            if doc is not None:
                raise InputError(name, lineno, "<DOC> inside another <DOC>")
            doc, start = [line.strip()[5:]], lineno
        elif upper.startswith("</DOC>"):
            if doc is None:
                raise InputError(name, lineno, "</DOC> without <DOC>")
            yield _trec_doc("\n".join(doc), name, start)
            doc = None
        elif doc is not None:
            doc.append(line)
    if doc is not None:
        raise InputError(name, start, "<DOC> is never closed")


def _trec_doc(body: str, name: str, line: int) -> tuple[str, str]:
    docno = re.search(r"<DOCNO>\s*(.*?)\s*</DOCNO>", body, flags=re.S | re.I)
    if not docno:
        raise InputError(name, line, "document without <DOCNO>")
    texts = [m.group(2) for m in re.finditer(rf"<({'|'.join(TREC_TEXT_TAGS)})\b[^>]*>(.*?)</\1>", body,
                                             flags=re.S | re.I)]
    text = " ".join(texts) if texts else body.replace(docno.group(0), " ")
    return docno.group(1), " ".join(re.sub(r"<[^>]+>", " ", text).split())


def _smart(lines, name):
    docid, field, fields = None, None, {}
    for lineno, line in lines:
        if line.startswith(".I"):
            if docid is not None:
                yield docid, _smart_text(fields)
            parts = line.split()
            if len(parts) != 2:
                raise InputError(name, lineno, "expected '.I <id>'")
            docid, field, fields = parts[1], None, {}
        elif re.match(r"^\.[A-Z]\s*$", line):
            if docid is None:
                raise InputError(name, lineno, f"field {line.strip()} before the first .I")
            field = line.strip()[1]
            fields.setdefault(field, [])
        elif field is not None:
            fields[field].append(line)
        elif line.strip():
            raise InputError(name, lineno, "text outside any .T/.A/.B/.W field")
    if docid is not None:
        yield docid, _smart_text(fields)


def _smart_text(fields: dict) -> str:
    return " ".join(" ".join(" ".join(fields[f]).split()) for f in SMART_TEXT_FIELDS if fields.get(f))


def write_corpus(docs: Iterator[tuple[str, str]], path) -> int:
    """pyserini JsonCollection lines; returns the number of documents. Refuses duplicate ids."""
    seen: set[str] = set()
    n = 0
    with atomic_output(path) as out:
        for docid, text in docs:
            if docid in seen:
                raise LlmrankError(f"document id {docid} appears more than once")
            seen.add(docid)
            out.write(json.dumps({"id": docid, "contents": text}, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_passages(path, wanted: set[str] | None = None) -> dict[str, str]:
    """docid -> text for the wanted ids (all when ``wanted`` is None); an ir_datasets id's wanted
    ids are looked up in its docstore."""
    if irds.is_id(path) and wanted is not None:
        return irds.passages(path, wanted)
    return {d: t for d, t in iter_documents(path) if wanted is None or d in wanted}
