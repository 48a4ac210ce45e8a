"""Item-ranking datasets (rank a fixed pool of items, e.g. LLMs, per query) and their folds.

A data directory is self-describing: ``topics.tsv``, ``qrels.txt`` (original labels),
``items.txt``, ``folds.tsv`` (qid -> fold, seeded, by query), ``embeddings.npy`` (one row per
topic from a frozen sentence encoder, computed once), optional ``layer_states.npy`` (fp16, per
topic the encoder's mean-pooled output of every layer), optional ``item_embeddings.npy`` (items
that are passages of a corpus, embedded by the same encoder: content items, which a ranker can
score without having seen them), optional discovery data (``discovery.json`` statistics,
``discovery.npz`` embeddings, answer flags and response features), optional candidate texts per query
(``responses.jsonl``: LLM answers, or a run's top passages) and raw labels (``scores.npy``),
optional ``categories.tsv`` (qid -> category, e.g. MMLU-Pro's subjects), optional
``response_features.npy`` (per query and LLM the features of its response, see
``discovery.FEATURES``), and ``data.json`` recording the gain map,
encoder, seed and a fingerprint of the inputs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LlmrankError
from ..formats import Qrels, Topic, read_qrels, read_topics, write_qrels, write_topics
from ..formats.categories import read_categories
from ..formats.io import atomic_directory, atomic_output
from ..kit.encoders import cached_embeddings, layer_states
from ..manifest import fingerprint

# The Million LLMs labels (1 = best, 2 = second best, 0 = other) are not in gain order and the
# track publishes no mapping: this one is bradleypallen/mllm-baseline's, stated wherever it is used.
MLLM_GAINS = {0: 0.0, 1: 1.0, 2: 0.7}
MLLM_GAINS_SOURCE = "bradleypallen/mllm-baseline's mapping (the track publishes none)"
DEFAULT_ENCODER = "all-MiniLM-L6-v2"


@dataclass
class ItemData:
    """A loaded data directory: labels as a dense (queries x items) gain matrix."""

    path: Path
    qids: list[str]
    texts: list[str]
    items: list[str]
    gains: np.ndarray        # float32 [n_queries, n_items], 0 where unjudged
    embeddings: np.ndarray   # float32 [n_queries, dim]
    folds: np.ndarray        # int [n_queries]
    meta: dict
    layer_states: np.ndarray | None = None     # float32 [n_queries, layers + 1, dim]
    item_embeddings: np.ndarray | None = None  # float32 [n_items, dim] for content items
    scores: np.ndarray | None = None           # float32 [n_queries, n_items] raw labels, NaN where none
    categories: np.ndarray | None = None       # str [n_queries], from categories.tsv
    response_features: np.ndarray | None = None  # float32 [n_queries, n_items, discovery.FEATURES], NaN = none
    _pools: list | None = None
    _discovery: tuple | None = None  # () when the directory has none

    def pools(self) -> list[tuple[np.ndarray, list[str]]]:
        """Per query: the items it has a candidate text for, and those texts (responses.jsonl)."""
        from .responses import load_pools

        if self._pools is None:
            self._pools = load_pools(self.path, self.qids, self.items)
            if self._pools is None:
                raise LlmrankError(f"{self.path}: no candidate texts; prepare the data directory with --responses "
                                   f"FILE, or --run RUN --corpus FILE")
        return self._pools

    @property
    def gain_map(self) -> dict[int, float]:
        return {int(k): float(v) for k, v in self.meta["gains"].items()}

    def discovery_features(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(embeddings, response features) of the discovery queries, if the directory has them;
        read once, so that every fold's model shares them (2025's are 340 MB)."""
        if self._discovery is None:
            path = self.path / "discovery.npz"
            stored = np.load(path) if path.exists() else None
            self._discovery = (stored["embeddings"], stored["features"]) \
                if stored is not None and "features" in stored.files else ()
        return self._discovery or None

    def with_weak_labels(self, weight: float) -> "ItemData":
        """A copy whose training gains add ``weight`` x the discovery data's weak credit."""
        from dataclasses import replace

        from .discovery import weak_credit

        if not (self.path / "discovery.npz").exists():
            raise LlmrankError(f"{self.path}: --weak-labels needs discovery data (prepare mllm --discovery FILE)")
        return replace(self, gains=self.gains + weight * weak_credit(self.embeddings, self.path))


def prepare_items(topics: list[Topic], qrels: Qrels, out: str, gains: dict[int, float] | None, folds: int,
                  seed: int, encoder: str, sources: list[str], discovery=None,
                  with_layer_states: bool = False, corpus: str | None = None, responses: str | None = None,
                  scores: str | None = None, candidates: str | None = None, depth: int = 100,
                  teacher: bool = False, categories: str | None = None, device: str = "auto",
                  response_metadata: bool = False, gains_source: str | None = None,
                  evidence: str | None = None) -> Path:
    """Write a data directory. ``candidates`` (a run, with ``corpus``) makes each query's pool
    its top ``depth`` passages, kept as texts; otherwise ``corpus`` makes every passage of that
    file an item (content items, embedded once), and the items are else the qrels' documents,
    with ``responses`` their texts per query. ``teacher``: the candidates' scores are the raw
    labels (distilling that run), and its queries count as judged. ``categories``: a qid ->
    category TSV that must cover every judged topic; ``discovery``: a ``discovery.Discovery``
    over the qrels' items (``response_metadata``: with the track's token log-probs, recorded for
    the run form); ``gains_source`` says where ``gains`` came from (none given: the labels);
    ``evidence``: the discovery's substantive answers (``read_discovery``), moved in as
    ``evidence.jsonl``; ``device`` runs the encoder (fp32 on any device: the cached vectors
    do not depend on it beyond rounding)."""
    from . import responses as texts
    out_dir = Path(out)
    if candidates and not corpus:
        raise LlmrankError("--run needs --corpus (the passages' texts)")
    if candidates and responses:
        raise LlmrankError("give --responses (texts of a fixed pool) or --run (a run's passages), not both")
    top = None
    if candidates:
        from ..formats import read_run

        top = read_run(candidates).truncated(depth)
    judged = set(qrels.qids()) | (set(top.table["qid"].to_pylist()) if teacher else set())
    topics = [t for t in topics if t.qid in judged]
    if len(topics) < folds:
        raise LlmrankError(f"{len(topics)} judged topics cannot make {folds} folds")
    category_of = read_categories(categories, [t.qid for t in topics]) if categories else None
    with atomic_directory(out, "data.json") as out_dir:
        pairs = None
        if candidates:
            from ..formats.corpus import read_passages

            pairs = texts.from_run(top, read_passages(corpus, set(top.table["docno"].to_pylist())),
                                   [t.qid for t in topics])
            items = sorted({item for _, item, _ in pairs})
        elif corpus:
            from ..formats.corpus import read_passages

            passages = read_passages(corpus)
            items = sorted(passages)
            with atomic_output(out_dir / "item_embeddings.npy", "wb") as f:
                np.save(f, cached_embeddings([passages[i] for i in items], encoder, device=device))
        else:
            items = sorted(set(qrels.table["docno"].to_pylist()))
        if responses:
            pairs = texts.read_responses(responses, {t.qid for t in topics}, set(items))
        if pairs is not None:
            texts.write_responses(pairs, out_dir)
        if scores or teacher:
            qids = [t.qid for t in topics]
            with atomic_output(out_dir / "scores.npy", "wb") as f:
                np.save(f, texts.run_scores(top, qids, items) if teacher else texts.read_scores(scores, qids, items))
        fold_of = assign_folds(len(topics), folds, seed)
        write_topics(topics, out_dir / "topics.tsv")
        write_qrels(qrels, out_dir / "qrels.txt")
        with atomic_output(out_dir / "items.txt") as f:
            f.write("".join(f"{i}\n" for i in items))
        with atomic_output(out_dir / "folds.tsv") as f:
            f.write("".join(f"{t.qid}\t{k}\n" for t, k in zip(topics, fold_of)))
        if category_of is not None:
            with atomic_output(out_dir / "categories.tsv") as f:
                f.write("".join(f"{t.qid}\t{category_of[t.qid]}\n" for t in topics))
        embeddings = cached_embeddings([t.text for t in topics], encoder, device=device)
        with atomic_output(out_dir / "embeddings.npy", "wb") as f:
            np.save(f, embeddings)
        if with_layer_states:
            with atomic_output(out_dir / "layer_states.npy", "wb") as f:
                np.save(f, layer_states([t.text for t in topics], encoder, device=device).astype(np.float16))
        if discovery is not None:
            from . import discovery as disc

            with atomic_output(out_dir / "discovery.json") as f:
                json.dump(disc.statistics(discovery), f, indent=2)
            with atomic_output(out_dir / "discovery.npz", "wb") as f:
                np.savez(f, qids=np.array(discovery.qids), flags=discovery.flags, features=discovery.values,
                         embeddings=cached_embeddings(discovery.texts, encoder, device=device))
        if evidence:
            os.replace(evidence, out_dir / "evidence.jsonl")
        if responses:
            from .discovery import pair_features

            with atomic_output(out_dir / "response_features.npy", "wb") as f:
                np.save(f, pair_features(pairs, [t.qid for t in topics], items))
        label_gains = gains or {int(v): float(v) for v in set(qrels.table["rel"].to_pylist())}
        meta = {"kind": "items", "sources": sources, "queries": len(topics), "items": len(items), "folds": folds,
                "seed": seed, "encoder": encoder, "dim": int(embeddings.shape[1]),
                "gains": {str(k): v for k, v in sorted(label_gains.items())},
                "gains_source": gains_source if gains else "the labels themselves (trec_eval's)",
                "layer_states": with_layer_states,
                "content_items": bool(corpus) and not candidates, "depth": depth if candidates else None,
                "categories": category_of is not None, "response_metadata": response_metadata,
                "fingerprint": fingerprint(out_dir / "topics.tsv", out_dir / "qrels.txt",
                                           *[p for p in (corpus, responses, scores, candidates, categories) if p])}
        with atomic_output(out_dir / "data.json") as f:
            json.dump(meta, f, indent=2)
    return Path(out)


def assign_folds(n: int, k: int, seed: int) -> np.ndarray:
    """Fold of each query: a seeded permutation dealt round-robin, so folds never share a query."""
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    return fold_of


def gain_matrix(qrels: Qrels, qids: list[str], items: list[str], gain: dict[int, float]) -> np.ndarray:
    """float32 [queries, items]: each judged pair's label through the gain map, 0 where unjudged
    (judged documents outside the item pool, e.g. not in a corpus, are left out)."""
    q_index, i_index = {q: n for n, q in enumerate(qids)}, {it: n for n, it in enumerate(items)}
    matrix = np.zeros((len(qids), len(items)), dtype=np.float32)
    for q, it, rel in zip(*(qrels.table[c].to_pylist() for c in ("qid", "docno", "rel"))):
        if q in q_index and it in i_index:
            matrix[q_index[q], i_index[it]] = gain.get(rel, float(max(rel, 0)))
    return matrix


def load_items(path: str) -> ItemData:
    d = Path(path)
    if not (d / "data.json").exists():
        raise LlmrankError(f"{d}: not a data directory (no data.json); make one with `llmrank prepare items|mllm`")
    meta = json.loads((d / "data.json").read_text())
    topics = read_topics(d / "topics.tsv", "tsv")
    qids = [t.qid for t in topics]
    items = (d / "items.txt").read_text().split()
    qrels = read_qrels(d / "qrels.txt")
    matrix = gain_matrix(qrels, qids, items, {int(k): float(v) for k, v in meta["gains"].items()})
    folds = dict(line.split("\t") for line in (d / "folds.tsv").read_text().splitlines())
    optional = {name: np.load(d / f"{name}.npy").astype(np.float32) if (d / f"{name}.npy").exists() else None
                for name in ("layer_states", "item_embeddings", "scores", "response_features")}
    categories = None
    if (d / "categories.tsv").exists():
        category_of = dict(line.split("\t") for line in (d / "categories.tsv").read_text().splitlines())
        categories = np.array([category_of[q] for q in qids])
    return ItemData(d, qids, [t.text for t in topics], items, matrix, np.load(d / "embeddings.npy"),
                    np.array([int(folds[q]) for q in qids]), meta, categories=categories, **optional)
