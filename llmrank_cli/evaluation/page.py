"""What `llmrank report`'s page shows, as plain data: the summary against every baseline, each
query's values, and the queries drawn one by one (each run's top k, labels, rank movement, the
passages with the query's terms marked). Text from the inputs stays text: the one place markup
is made from it is :func:`marked`, through markupsafe's escaping; the template escapes the rest."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from .engine import Evaluation
from .printed import cell, printed
from .significance import Comparison, compare_to_baseline, corrected_per_measure

# Words too common to mark in a passage: they would mark most of it.
STOPWORDS = frozenset("the and for are was were with from that this what which who whom how why when where does did "
                      "can you your its has have had not but all any our their there been being into onto than then "
                      "they them these those of to in on is it a an as at by be or do".split())
CHART_LIMIT = 1000  # bars in one per-query chart: beyond it, the largest wins and losses


@dataclass
class Shown:
    """One document in one run's column of a query: its rank, label (None: unjudged), its rank
    in the column to the left (None: not there), and its text with the query's terms marked."""

    docno: str
    rank: int
    label: int | None
    before: int | None
    text: Markup | None


@dataclass
class QueryView:
    anchor: str
    qid: str
    text: str
    category: str | None
    values: list[str]                      # the chart measure of each run ('' where a run lacks the query)
    columns: list[tuple[str, list[Shown]]]  # (run, its top k)


@dataclass
class Row:
    """One run in the summary: its values, and against each baseline its comparisons."""

    run: str
    tag: str
    values: list[str]
    versus: dict[str, dict[str, Comparison]] = field(default_factory=dict)  # baseline -> measure -> comparison


def against_baselines(evals: list[Evaluation], baselines: list[str], test: str, correction: str, alpha: float,
                      permutations: int, seed: int) -> list[tuple[str, Comparison]]:
    """(baseline, comparison) of every other run against every baseline, p-values corrected per
    measure over all of them (with one baseline: exactly `eval --baseline`'s)."""
    names = [ev.run_name for ev in evals]
    raw = [(base, c) for base in baselines
           for c in compare_to_baseline(evals, names.index(base), test, "none", alpha, permutations, seed)]
    return corrected_per_measure(raw, correction, alpha)


def summary(evals: list[Evaluation], tags: dict[str, str], compared: list[tuple[str, Comparison]]) -> list[Row]:
    """One row per run, its values printed as `eval` prints them."""
    rows = []
    for ev in evals:
        aggregate = ev.aggregate()
        row = Row(ev.run_name, tags.get(ev.run_name, ""), [cell(ev, mi, None, aggregate[mi])
                                                           for mi in columns(ev)])
        for base, c in compared:
            if c.run_name == ev.run_name:
                row.versus.setdefault(base, {})[c.measure] = c
        rows.append(row)
    return rows


def columns(ev: Evaluation) -> list[int]:
    """The measures with one value per run (no per-query strings)."""
    return [mi for mi, m in enumerate(ev.measures) if printed(ev, mi, None) and not m.text]


def per_query(ev: Evaluation, label: str) -> dict[str, float]:
    """qid -> the measure's value, for the queries the run was evaluated on."""
    values = ev.column(label)
    return {q: float(values[i]) for i, q in enumerate(ev.qids) if values[i] == values[i]}


def deltas(run: dict[str, float], base: dict[str, float]) -> list[tuple[str, float]]:
    """(qid, run - baseline) over the queries both have, smallest first; past CHART_LIMIT only the
    largest losses and wins."""
    out = sorted(((q, run[q] - base[q]) for q in base if q in run), key=lambda x: (x[1], x[0]))
    if len(out) > CHART_LIMIT:
        out = out[:CHART_LIMIT // 2] + out[-CHART_LIMIT // 2:]
    return out


def chosen(values: list[dict[str, float]], limit: int) -> list[str]:
    """The queries drawn one by one: all of the baseline's (``values[0]``) when they are at most
    ``limit``, else the ``limit`` where some run differs most from it; in the baseline's order."""
    base = values[0]
    if len(base) <= limit:
        return list(base)
    spread = {q: max((abs(v[q] - b) for v in values[1:] if q in v), default=0.0) for q, b in base.items()}
    keep = set(sorted(spread, key=lambda q: (-spread[q], q))[:limit])
    return [q for q in base if q in keep]


def terms(query: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"\w+", query.lower()) if len(w) > 1 and w not in STOPWORDS)


def marked(text: str, words: frozenset[str]) -> Markup:
    """``text`` escaped, the query's words in it wrapped in <mark>."""
    return Markup("").join(Markup("<mark>%s</mark>") % piece if piece.lower() in words else escape(piece)
                           for piece in re.split(r"(\w+)", text) if piece)


def columns_of(qid: str, tops: list[tuple[str, list[str]]], label_of: dict[tuple[str, str], int],
               text_of, words: frozenset[str]) -> list[tuple[str, list[Shown]]]:
    """Each run's top documents for ``qid``, with labels, the rank each had in the column to the
    left, and text (``text_of(qid, docno)``, None where unknown)."""
    out, left = [], {}
    for run, docnos in tops:
        shown = []
        for rank, docno in enumerate(docnos, 1):
            text = text_of(qid, docno)
            shown.append(Shown(docno, rank, label_of.get((qid, docno)), left.get(docno),
                               marked(text, words) if text is not None else None))
        out.append((run, shown))
        left = {d: r for r, d in enumerate(docnos, 1)}
    return out
