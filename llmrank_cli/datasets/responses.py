"""Candidate texts of an item data directory: per query, the items it has a text for (an LLM's
answer to the prompt, or a first-stage run's passage) and those texts, kept as
``responses.jsonl`` (``{"qid", "llm", "response"}``, the LLM-ranking sets' own layout); and
raw per-pair labels (``scores.tsv``: ``qid<TAB>llm<TAB>label``, e.g. GPT-4's 1-10 scores, or a teacher
run's scores).
Rankers that read the texts (language rankers) train on each query's pool of texts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats.io import atomic_output, display_name, iter_lines, json_object

ITEM_KEYS, TEXT_KEYS = ("llm", "item", "model", "docno"), ("response", "text", "contents")


def read_responses(path, qids: set[str], items: set[str] | None) -> list[tuple[str, str, str]]:
    """(qid, item, text) of every line, checked: a qid outside ``qids`` or an item outside
    ``items`` (when given) or a pair given twice is an error naming the line."""
    name, out, seen = display_name(path), [], set()
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        obj = json_object(line, name, lineno)
        item = next((obj[k] for k in ITEM_KEYS if k in obj), None)
        text = next((obj[k] for k in TEXT_KEYS if k in obj), None)
        if "qid" not in obj or item is None or not isinstance(text, str):
            raise InputError(name, lineno, f"needs qid, an item ({'/'.join(ITEM_KEYS)}) and a text "
                                           f"({'/'.join(TEXT_KEYS)})")
        qid, item = str(obj["qid"]), str(item)
        if qid not in qids:
            raise InputError(name, lineno, f"qid {qid!r} is not a judged topic")
        if items is not None and item not in items:
            raise InputError(name, lineno, f"{item!r} is not an item of the qrels")
        if (qid, item) in seen:
            raise InputError(name, lineno, f"a second text of {item!r} for query {qid}")
        seen.add((qid, item))
        out.append((qid, item, text))
    if not out:
        raise InputError(name, None, "no responses")
    return out


def from_run(top, passages: dict[str, str], qids: list[str]) -> list[tuple[str, str, str]]:
    """(qid, docno, text) of each topic's candidates in a (truncated) run, in its order; a
    candidate missing from the corpus is an error: a pool must not silently shrink."""
    from collections import defaultdict

    from ..errors import LlmrankError

    by_query = defaultdict(list)
    for qid, docno in zip(top.table["qid"].to_pylist(), top.table["docno"].to_pylist()):
        by_query[qid].append(docno)
    out = []
    for qid in qids:
        for docno in by_query[qid]:
            if docno not in passages:
                raise LlmrankError(f"{docno} (a candidate of query {qid}) is not in the corpus")
            out.append((qid, docno, passages[docno]))
    return out


def run_scores(top, qids: list[str], items: list[str]) -> np.ndarray:
    """float32 [queries, items] of a (truncated) run's scores as raw labels, NaN where it has none."""
    q_index, i_index = {q: n for n, q in enumerate(qids)}, {it: n for n, it in enumerate(items)}
    out = np.full((len(qids), len(items)), np.nan, dtype=np.float32)
    for qid, docno, score in zip(*(top.table[c].to_pylist() for c in ("qid", "docno", "score"))):
        if qid in q_index:
            out[q_index[qid], i_index[docno]] = score
    return out


def write_responses(rows: list[tuple[str, str, str]], directory: Path) -> None:
    with atomic_output(directory / "responses.jsonl") as f:
        for qid, item, text in rows:
            f.write(json.dumps({"qid": qid, "llm": item, "response": text}) + "\n")


def load_pools(directory: Path, qids: list[str], items: list[str]) -> list[tuple[np.ndarray, list[str]]] | None:
    """Per query (in ``qids`` order): its items' indices and texts, in file order; None when the
    directory has no responses."""
    path = directory / "responses.jsonl"
    if not path.exists():
        return None
    q_index, i_index = {q: n for n, q in enumerate(qids)}, {it: n for n, it in enumerate(items)}
    pools: list[tuple[list[int], list[str]]] = [([], []) for _ in qids]
    for qid, item, text in read_responses(path, set(qids), set(items)):
        pools[q_index[qid]][0].append(i_index[item])
        pools[q_index[qid]][1].append(text)
    return [(np.array(idx, dtype=np.int64), texts) for idx, texts in pools]


def read_scores(path, qids: list[str], items: list[str]) -> np.ndarray:
    """float32 [queries, items] of raw labels, NaN where a pair has none."""
    name = display_name(path)
    q_index, i_index = {q: n for n, q in enumerate(qids)}, {it: n for n, it in enumerate(items)}
    out = np.full((len(qids), len(items)), np.nan, dtype=np.float32)
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            raise InputError(name, lineno, "expected qid<TAB>llm<TAB>label")
        try:
            value = float(parts[2])
        except ValueError:
            raise InputError(name, lineno, f"label {parts[2]!r} is not a number") from None
        if not np.isfinite(value):
            raise InputError(name, lineno, f"label {parts[2]!r} is not finite")
        if parts[0] in q_index:
            if parts[1] not in i_index:
                raise InputError(name, lineno, f"{parts[1]!r} is not an item of the qrels")
            out[q_index[parts[0]], i_index[parts[1]]] = value
    return out
