"""Collections by ir_datasets id: ``irds:msmarco-passage/trec-dl-2019/judged`` wherever topics,
qrels or a corpus are read, through the ``ir-datasets`` package (the ``irds`` extra). Topics and
qrels as the dataset gives them; a corpus streamed from its files, or for a set of ids looked up
in its docstore, never loaded whole. Anything ir_datasets cannot give (an unknown id, a part
the dataset lacks, a download that fails offline) is one line naming the id."""
from __future__ import annotations

import contextlib
from typing import Iterator

from ..errors import LlmrankError, MissingExtra

PREFIX = "irds:"
# --topics-field -> the query fields that hold it, first present wins (MS MARCO's queries have
# only `text`; TREC's topics title, description, narrative).
QUERY_FIELDS = {"title": ("title", "text", "query"), "desc": ("description", "text"), "narr": ("narrative",)}


def is_id(path) -> bool:
    return isinstance(path, str) and path.startswith(PREFIX)


def dataset(path: str):
    try:
        import ir_datasets
    except ImportError:
        raise MissingExtra(path, "ir-datasets", "irds") from None
    try:
        return ir_datasets.load(path[len(PREFIX):])
    except KeyError:
        raise LlmrankError(f"{path}: no such ir_datasets id (https://ir-datasets.com lists them)") from None


@contextlib.contextmanager
def _getting(path: str, part: str):
    """ir_datasets' own failures (a download offline, a missing file) as one line."""
    ds = dataset(path)
    if not getattr(ds, f"has_{part}")():
        raise LlmrankError(f"{path}: this dataset has no {part}")
    try:
        yield ds
    except LlmrankError:
        raise
    except Exception as e:  # ir_datasets raises whatever its downloads and formats raise
        raise LlmrankError(f"{path}: ir_datasets could not give its {part}: {type(e).__name__}: {e}") from None


def topics(path: str, field: str = "title") -> list[tuple[str, str]]:
    """(qid, text) of every query, the text from the field ``--topics-field`` names."""
    with _getting(path, "queries") as ds:
        names = ds.queries_cls()._fields
        source = next((f for f in QUERY_FIELDS[field] if f in names), None)
        if source is None:
            raise LlmrankError(f"{path}: its queries have no {field} (fields: {', '.join(names[1:])})")
        return [(q.query_id, getattr(q, source)) for q in ds.queries_iter()]


def qrels(path: str) -> tuple[list[str], list[str], list[int]]:
    """The judgements as columns: qids, docnos, labels."""
    with _getting(path, "qrels") as ds:
        rows = [(q.query_id, q.doc_id, q.relevance) for q in ds.qrels_iter()]
    return tuple(map(list, zip(*rows))) if rows else ([], [], [])


def _text(doc) -> str:
    return doc.default_text() if hasattr(doc, "default_text") else doc.text


def documents(path: str) -> Iterator[tuple[str, str]]:
    """(docid, text) of every document, streamed in the dataset's order."""
    with _getting(path, "docs") as ds:
        for doc in ds.docs_iter():
            yield doc.doc_id, _text(doc)


def passages(path: str, wanted: set[str]) -> dict[str, str]:
    """docid -> text of the wanted documents, from the dataset's docstore (built on first use)."""
    with _getting(path, "docs") as ds:
        return {d: _text(doc) for d, doc in ds.docs_store().get_many(wanted).items()}
