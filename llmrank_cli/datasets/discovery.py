"""The Million LLMs track's discovery data: other queries with every LLM's response and no
labels, and (2026) ``llm_discovery_metadata.json``, the same responses with their token
log-probabilities. What they offer is unlabelled evidence about each LLM: whether it answered,
whether it refused ("I don't know" is most of the 2026 responses), how long it wrote and how sure
it was.

Both files are streamed (ijson): per response only a few numbers are kept (:data:`FEATURES`),
never the texts, straight into one float32 array per query, so a 1.3 GB metadata file or 17M
responses (2025) fit in memory. ``prepare mllm --discovery`` keeps them in ``discovery.npz``
(the queries' embeddings, the substantive flags ``weak_credit`` reads, the statistics) and
per-LLM counts in ``discovery.json``.
"""
from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError

# A refusal: the 2026 pool's literal "I don't know" (about 84% of its responses) and the usual
# assistant refusals, looked for at the start of an answer.
REFUSAL = re.compile(r"^\W*(?:I (?:don't|do not) know\b|I'm not sure\b)|\b(?:I (?:can(?:no|')t|am unable to|won't)"
                     r"|as an AI|I'm sorry, but)\b", re.I)
NEIGHBOURS = 10  # discovery queries whose answers credit an LLM for a query
FEATURES = ("answered", "substantive", "log_length", "mean_logprob", "min_logprob")
ANSWERED, SUBSTANTIVE, LOG_LENGTH, MEAN_LOGPROB, MIN_LOGPROB = range(len(FEATURES))


def substantive(text: str) -> bool:
    """A non-refusal answer of some length: the weak signal discovery data offers."""
    return len(text.strip()) >= 20 and not REFUSAL.search(text[:300])


def response_features(text: str, logprobs=None) -> tuple[float, ...]:
    """The :data:`FEATURES` of one response (log-probs NaN when not given); plain floats, since
    a 2025-size file has 17M responses."""
    text = text or ""
    if logprobs:
        values = [float(v) for v in logprobs]
        mean, low = sum(values) / len(values), min(values)
    else:
        mean = low = math.nan
    return float(bool(text.strip())), float(substantive(text)), math.log1p(len(text)), mean, low


@dataclass
class Discovery:
    """Discovery queries and, per query and LLM, the :data:`FEATURES` of its response (NaN where
    that LLM has none)."""

    qids: list[str]
    texts: list[str]
    items: list[str]
    values: np.ndarray  # float32 [queries, items, features]

    @property
    def flags(self) -> np.ndarray:
        """[queries, items]: 1 substantive, 0 not, NaN where the LLM did not answer."""
        return self.values[:, :, SUBSTANTIVE]


def _records(path: str, with_logprobs: bool) -> Iterator[tuple[str, str, dict]]:
    """(qid, query text, {llm: (text, logprobs)}) of each record of a discovery or metadata file:
    ``{qid: {"query", "responses": {llm: text | {"response", "logprobs"}}}}``, or a list of such
    records with a "qid"; responses may also be a list of {"llm"/"llm_id"/"model",
    "response"/"text"}. Extra fields are ignored."""
    import ijson

    from ..formats.io import display_name

    name = display_name(path)
    with open(path, "rb") as f:
        first = f.read(64).lstrip()[:1]
        f.seek(0)
        if first not in (b"{", b"["):
            raise InputError(name, 1, "expected a JSON object or list")
        records = ijson.kvitems(f, "", use_float=True) if first == b"{" else \
            ((None, r) for r in ijson.items(f, "item", use_float=True))
        try:
            for n, (key, record) in enumerate(records):
                if not isinstance(record, dict):
                    continue
                responses = record.get("responses", {})
                if isinstance(responses, list):
                    responses = {r.get("llm") or r.get("llm_id") or r.get("model"): r for r in responses
                                 if isinstance(r, dict)}
                answers = {}
                for llm, r in responses.items():
                    if isinstance(r, dict):
                        text = r.get("response") or r.get("text") or ""
                        answers[str(llm)] = (str(text), r.get("logprobs") if with_logprobs else None)
                    else:
                        answers[str(llm)] = (str(r or ""), None)
                qid = str(key if key is not None else record.get("qid", record.get("query_id", n)))
                yield qid, str(record.get("query") or ""), answers
        except ijson.JSONError as exc:
            problem = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise InputError(name, None, f"invalid or truncated JSON near byte {f.tell()} ({problem})") from None


def read_discovery(paths: list[str], items: list[str], metadata: list[str] = (), evidence=None) -> Discovery:
    """Stream the discovery files, then the metadata files (their log-probs fill in the
    responses the discovery files named; texts given only in metadata count as responses too).
    An LLM outside ``items`` (the qrels' LLMs), or a metadata query or LLM the discovery files do
    not have, is an error naming the file: the two must describe one pool. ``evidence`` (a text
    file) receives each substantive answer as a JSON line ``{"llm", "qid", "text"}`` (the query
    and the answer): the profile ranker's documents, written as they stream by."""
    from ..formats.io import display_name

    column = {item: n for n, item in enumerate(items)}
    row_of, qids, texts, rows = {}, [], [], []
    for path in paths:
        for qid, text, answers in _records(path, with_logprobs=True):
            unknown = next((llm for llm in answers if llm not in column), None)
            if unknown is not None:
                raise InputError(display_name(path), None, f"LLM {unknown!r} (query {qid}) is not in the qrels")
            row = np.full((len(items), len(FEATURES)), np.nan, dtype=np.float32)
            for llm, (answer, logprobs) in answers.items():
                row[column[llm]] = response_features(answer, logprobs)
                if evidence is not None and row[column[llm], SUBSTANTIVE] == 1:
                    evidence.write(json.dumps({"llm": llm, "qid": qid, "text": f"{text}\n{answer}"}) + "\n")
            row_of[qid] = len(rows)
            qids.append(qid)
            texts.append(text)
            rows.append(row)
    for path in metadata:
        for qid, text, answers in _records(path, with_logprobs=True):
            if qid not in row_of:
                raise InputError(display_name(path), None, f"query {qid} is not in the discovery file")
            row = rows[row_of[qid]]
            for llm, (answer, logprobs) in answers.items():
                if llm not in column or np.isnan(row[column[llm], ANSWERED]):
                    raise InputError(display_name(path), None,
                                     f"LLM {llm!r} has no response to query {qid} in the discovery file")
                if logprobs:
                    row[column[llm]] = response_features(answer, logprobs)
    values = np.stack(rows) if rows else np.zeros((0, len(items), len(FEATURES)), dtype=np.float32)
    return Discovery(qids, texts, list(items), values)


def pair_features(pairs: list[tuple[str, str, str]], qids: list[str], items: list[str]) -> np.ndarray:
    """float32 [queries, items, features] of (qid, item, text) responses, NaN where none."""
    q_index, i_index = {q: n for n, q in enumerate(qids)}, {it: n for n, it in enumerate(items)}
    out = np.full((len(qids), len(items), len(FEATURES)), np.nan, dtype=np.float32)
    for qid, item, text in pairs:
        out[q_index[qid], i_index[item]] = response_features(text)
    return out


def statistics(discovery: Discovery) -> dict:
    """Per-LLM response and substantive-answer counts."""
    answered = ~np.isnan(discovery.flags)
    return {"queries": len(discovery.qids),
            "llms": {llm: {"responses": int(answered[:, n].sum()), "substantive": int(np.nansum(discovery.flags[:, n]))}
                     for n, llm in enumerate(discovery.items) if answered[:, n].any()}}


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
