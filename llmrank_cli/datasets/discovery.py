"""The Million LLMs track's discovery data: other queries with every LLM's response and no
labels. What it offers is weak: whether an LLM gave a substantive (non-refusal) answer.

``prepare mllm --discovery`` keeps, per discovery query, its embedding and that substantive
flag per LLM (``discovery.npz``), plus per-LLM counts (``discovery.json``). ``weak_credit``
turns them into weak labels for any query: the share of substantive answers each LLM gave to
the query's nearest discovery queries.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError
from ..formats.io import display_name

REFUSAL = re.compile(r"\b(I (?:can(?:no|')t|am unable to|won't)|as an AI|I'm sorry, but)\b", re.I)
NEIGHBOURS = 10  # discovery queries whose answers credit an LLM for a query


@dataclass
class DiscoveryQuery:
    qid: str
    text: str
    substantive: dict[str, bool]  # llm -> gave a substantive answer


def substantive(text: str) -> bool:
    """A non-refusal answer of some length: the weak signal discovery data offers."""
    return len(text.strip()) >= 20 and not REFUSAL.search(text[:300])


def read_discovery(paths: list[str]) -> Iterator[DiscoveryQuery]:
    """Stream the discovery JSON ({qid: {"query", "responses": {llm: text}}}, or a list of such
    records with a "qid"; responses may be a list of {"llm"/"llm_id"/"model", "response"/"text"};
    extra fields are ignored). Only the flags are kept, never the response texts."""
    import ijson

    for path in paths:
        with open(path, "rb") as f:
            first = f.read(64).lstrip()[:1]
            f.seek(0)
            if first not in (b"{", b"["):
                raise InputError(display_name(path), 1, "expected a JSON object or list")
            records = ijson.kvitems(f, "") if first == b"{" else ((None, r) for r in ijson.items(f, "item"))
            try:
                for n, (key, record) in enumerate(records):
                    if not isinstance(record, dict):
                        continue
                    responses = record.get("responses", {})
                    if isinstance(responses, list):
                        responses = {r.get("llm") or r.get("llm_id") or r.get("model"): r.get("response") or
                                     r.get("text") or "" for r in responses if isinstance(r, dict)}
                    qid = str(key if key is not None else record.get("qid", record.get("query_id", n)))
                    yield DiscoveryQuery(qid, str(record.get("query") or ""),
                                         {str(llm): substantive(str(text or "")) for llm, text in responses.items()})
            except ijson.JSONError as exc:
                raise InputError(display_name(path), None, f"invalid JSON ({exc})") from None


def statistics(queries: list[DiscoveryQuery]) -> dict:
    """Per-LLM response and substantive-answer counts."""
    per_llm: dict[str, list[int]] = {}
    for q in queries:
        for llm, ok in q.substantive.items():
            counts = per_llm.setdefault(llm, [0, 0])
            counts[0] += 1
            counts[1] += int(ok)
    return {"queries": len(queries), "llms": {k: {"responses": v[0], "substantive": v[1]}
                                              for k, v in sorted(per_llm.items())}}


def flag_matrix(queries: list[DiscoveryQuery], items: list[str]) -> np.ndarray:
    """[discovery queries, items]: 1 substantive, 0 not, NaN where the LLM did not answer."""
    column = {item: n for n, item in enumerate(items)}
    flags = np.full((len(queries), len(items)), np.nan, dtype=np.float32)
    for row, q in enumerate(queries):
        for llm, ok in q.substantive.items():
            if llm in column:
                flags[row, column[llm]] = float(ok)
    return flags


def weak_credit(embeddings: np.ndarray, directory: Path, k: int = NEIGHBOURS) -> np.ndarray:
    """[queries, items] in [0, 1]: for each query, the share of substantive answers each LLM gave
    to its ``k`` most similar discovery queries (cosine on the cached embeddings); an LLM with
    no answer among them gets its overall share."""
    stored = np.load(directory / "discovery.npz")
    disc, flags = stored["embeddings"], stored["flags"]
    k = min(k, len(disc))
    nearest = np.argpartition(-(embeddings @ disc.T), k - 1, axis=1)[:, :k]
    with warnings.catch_warnings():  # all-NaN columns are expected: LLMs that did not answer
        warnings.simplefilter("ignore", RuntimeWarning)
        overall = np.nan_to_num(np.nanmean(flags, axis=0), nan=0.0)
        credit = np.nanmean(flags[nearest], axis=1)
    return np.where(np.isnan(credit), overall, credit).astype(np.float32)
