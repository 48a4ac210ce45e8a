"""Passage-relevance training examples for cross-encoders, from what users have: qrels with
a candidate run (hard negatives come from the run) and a corpus, MS MARCO triples, or a
teacher's run to distil (its scores are the targets).

Examples come in two shapes, matching sentence-transformers' losses: pointwise rows
``(query, passage, label)`` and listwise rows ``(query, [passages], [labels])``, one list per
positive with its sampled negatives. Sampling is seeded.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..errors import InputError, LlmrankError
from ..formats import Qrels, Run, Topic
from ..formats.corpus import iter_documents, read_passages
from ..formats.io import display_name, iter_lines

NEGATIVE_SOURCES = ("hard", "random")


def passage_source(corpus: str):
    """wanted ids -> texts, from a collection file or a Lucene index directory (built with
    ``--store-raw``)."""
    from pathlib import Path

    if Path(corpus).is_dir():
        from ..retrieval.bm25 import index_passages

        return lambda wanted: index_passages(corpus, wanted)
    return lambda wanted: read_passages(corpus, wanted)


@dataclass
class PassageExamples:
    """Listwise groups: ``groups[i]`` is (query, passages, labels), the positive first. Pointwise
    targets are 1 for the positive and 0 for its negatives, or the labels themselves when they
    are a teacher's scores (``scored``)."""

    groups: list[tuple[str, list[str], list[float]]] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    scored: bool = False

    def describe(self) -> str:
        s = self.stats
        if self.scored:
            return f"distilling the teacher run's scores on {s['pairs']} pairs ({s['queries']} queries)"
        return f"training on {s['groups']} positives with their negatives ({s['pairs']} pairs, {s['queries']} queries)"

    def pointwise(self) -> dict[str, list]:
        rows = {"query": [], "passage": [], "label": []}
        for query, passages, labels in self.groups:
            rows["query"] += [query] * len(passages)
            rows["passage"] += passages
            rows["label"] += labels if self.scored else [1.0 if i == 0 else 0.0 for i in range(len(passages))]
        return rows

    def listwise(self) -> dict[str, list]:
        return {"query": [g[0] for g in self.groups], "docs": [g[1] for g in self.groups],
                "labels": [g[2] for g in self.groups]}


def from_judgements(topics: list[Topic], qrels: Qrels, candidates: Run, corpus: str, negatives: str = "hard",
                    per_positive: int = 4, rel_level: int = 1, depth: int = 100, seed: int = 0) -> PassageExamples:
    """One group per judged-relevant passage (label >= rel_level): the positive and
    ``per_positive`` negatives, drawn from the query's top-``depth`` candidates that are not
    relevant (hard) or from the whole corpus (random). Graded labels ride along for listwise
    losses (unjudged = 0)."""
    if negatives not in NEGATIVE_SOURCES:
        raise LlmrankError(f"--negatives must be one of {', '.join(NEGATIVE_SOURCES)}")
    text = {t.qid: t.text for t in topics}
    labels: dict[str, dict[str, int]] = {}
    for q, d, r in zip(*(qrels.table[c].to_pylist() for c in ("qid", "docno", "rel"))):
        labels.setdefault(q, {})[d] = r
    ranked: dict[str, list[str]] = {}
    table = candidates.truncated(depth).table
    for q, d in zip(table["qid"].to_pylist(), table["docno"].to_pylist()):
        ranked.setdefault(q, []).append(d)
    qids = [q for q in text if q in labels]
    if not qids:
        raise LlmrankError(f"no topic of the {len(text)} given has judgements in {qrels.name}")
    positives = {q: [d for d, r in labels[q].items() if r >= rel_level] for q in qids}
    pools = {q: [d for d in ranked.get(q, []) if labels[q].get(d, 0) < rel_level] for q in qids}
    wanted = {d for q in qids for d in positives[q]}
    if negatives == "hard":
        wanted |= {d for q in qids for d in pools[q]}
    passages = read_passages(corpus, wanted)
    rng = random.Random(seed)
    if negatives == "random":
        n_needed = sum(len(p) for p in positives.values()) * per_positive
        sample = _reservoir(corpus, n_needed + 10 * per_positive, rng)
        passages.update(sample)
        pools = {q: [d for d in sample if labels[q].get(d, 0) < rel_level] for q in qids}
    examples = PassageExamples()
    missing = 0
    for q in qids:
        pool = [d for d in pools[q] if d in passages]
        for d in positives[q]:
            if d not in passages:
                missing += 1
                continue
            negs = rng.sample(pool, min(per_positive, len(pool)))
            if not negs:
                continue
            docs = [d, *negs]
            examples.groups.append((text[q], [passages[x] for x in docs], [float(labels[q].get(x, 0)) for x in docs]))
    if not examples.groups:
        raise LlmrankError(f"no training example: no topic has a passage labelled >= {rel_level} in "
                           f"{qrels.name} that is in {display_name(corpus)} together with a negative")
    examples.stats = {"queries": len({g[0] for g in examples.groups}), "groups": len(examples.groups),
                      "pairs": sum(len(g[1]) for g in examples.groups), "positives_without_text": missing}
    return examples


def from_teacher(topics: list[Topic], teacher: Run, corpus: str, depth: int = 100) -> PassageExamples:
    """Distillation: every (topic, passage) pair in the teacher run's top ``depth`` with the
    teacher's score as its target, one group per topic. The teacher is any run, e.g. a
    bi-encoder's or a larger cross-encoder's from ``llmrank rerank``."""
    text = {t.qid: t.text for t in topics}
    table = teacher.for_queries(text).truncated(depth).table
    if not table.num_rows:
        raise LlmrankError(f"{teacher.name}: no query of the {len(text)} training topics is in the teacher run")
    scored: dict[str, list[tuple[str, float]]] = {}
    for q, d, s in zip(*(table[c].to_pylist() for c in ("qid", "docno", "score"))):
        scored.setdefault(q, []).append((d, s))
    passages = read_passages(corpus, set(table["docno"].to_pylist()))
    examples = PassageExamples(scored=True)
    missing = 0
    for q, hits in scored.items():
        kept = [(d, s) for d, s in hits if d in passages]
        missing += len(hits) - len(kept)
        if kept:
            examples.groups.append((text[q], [passages[d] for d, _ in kept], [s for _, s in kept]))
    if not examples.groups:
        raise LlmrankError(f"no training example: no passage of {teacher.name}'s top {depth} "
                           f"is in {display_name(corpus)}")
    examples.stats = {"queries": len(examples.groups), "groups": len(examples.groups),
                      "pairs": sum(len(g[1]) for g in examples.groups), "passages_without_text": missing}
    return examples


def _reservoir(corpus: str, size: int, rng: random.Random) -> dict[str, str]:
    """A uniform sample of ``size`` passages in one streaming pass (memory bounded by size)."""
    kept: list[tuple[str, str]] = []
    for n, doc in enumerate(iter_documents(corpus)):
        if n < size:
            kept.append(doc)
        else:
            j = rng.randrange(n + 1)
            if j < size:
                kept[j] = doc
    return dict(kept)


def from_triples(path: str, topics: list[Topic] | None = None, corpus: str | None = None) -> PassageExamples:
    """MS MARCO training triples: ``qid<TAB>pos_pid<TAB>neg_pid`` (with topics and a corpus)
    or ``query<TAB>positive text<TAB>negative text``. Ids are assumed when topics and a corpus
    are given; each line becomes a group (positive, negative)."""
    rows = []
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            raise InputError(display_name(path), lineno, f"expected 3 tab-separated fields, found {len(parts)}")
        rows.append((lineno, *parts))
    if not rows:
        raise InputError(display_name(path), None, "no triples")
    if (topics is None) != (corpus is None):
        raise LlmrankError("id triples need both --topics and --corpus; text triples need neither")
    examples = PassageExamples()
    if topics is None:
        examples.groups = [(q, [p, n], [1.0, 0.0]) for _, q, p, n in rows]
    else:
        text = {t.qid: t.text for t in topics}
        passages = read_passages(corpus, {x for _, _, p, n in rows for x in (p, n)})
        for lineno, q, p, n in rows:
            absent = next((x for x in (p, n) if x not in passages), None)
            if q not in text or absent is not None:
                what = f"qid {q} is not in the topics" if q not in text else f"pid {absent} is not in the corpus"
                raise InputError(display_name(path), lineno, what)
            examples.groups.append((text[q], [passages[p], passages[n]], [1.0, 0.0]))
    examples.stats = {"queries": len({g[0] for g in examples.groups}), "groups": len(examples.groups),
                      "pairs": 2 * len(examples.groups)}
    return examples
