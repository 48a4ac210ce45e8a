"""`llmrank report`: the runs evaluated as `eval` evaluates them, then one self-contained HTML page
of where they differ (evaluation/page.py holds its data, evaluation/charts.py its charts,
resources/report.html.j2 its layout)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..api import as_run, evaluations
from ..errors import LlmrankError
from ..evaluation import charts, page
from ..evaluation.breakdown import compared
from ..evaluation.printed import value_text
from ..evaluation.report import short_names
from ..formats import read_categories, read_qrels, read_topics
from ..formats.io import atomic_output
from ..jobs.evaluation import ReportJob


@dataclass
class Sources:
    """Where the page's texts and categories come from: the flags, else the data directory."""

    topics: str | None
    by: str | None
    responses: Path | None
    item_word: str

    @classmethod
    def of(cls, job: ReportJob) -> "Sources":
        if job.data is None:
            return cls(job.topics, job.by, None, "passage")
        d = Path(job.data)
        if not (d / "data.json").exists():
            raise LlmrankError(f"{d}: not a data directory (no data.json); make one with `llmrank prepare items|mllm`")
        by = job.by or (str(d / "categories.tsv") if (d / "categories.tsv").exists() else None)
        responses = d / "responses.jsonl" if (d / "responses.jsonl").exists() else None
        return cls(job.topics or str(d / "topics.tsv"), by, responses, "item")


def _texts(job: ReportJob, sources: Sources, wanted: set[str], qids: set[str]):
    """text_of(qid, docno): a corpus passage, an LLM's response to the query, or None."""
    if job.corpus is not None:
        from ..formats.corpus import read_passages

        passages = read_passages(job.corpus, wanted)
        return lambda qid, docno: passages.get(docno)
    if sources.responses is not None:
        from ..datasets.responses import read_responses

        answers = {(q, item): text for q, item, text in read_responses(sources.responses, qids, None)}
        return lambda qid, docno: answers.get((qid, docno))
    return lambda qid, docno: None


def _tops(runs, qids: list[str], depth: int) -> list[tuple[str, dict[str, list[str]]]]:
    """(run, qid -> its first ``depth`` docnos in trec_eval's order) for the queries drawn."""
    out = []
    for run in runs:
        table = run.for_queries(qids).truncated(depth).table
        top: dict[str, list[str]] = {}
        for qid, docno in zip(table["qid"].to_pylist(), table["docno"].to_pylist()):
            top.setdefault(qid, []).append(docno)
        out.append((run.name, top))
    return out


def _labels(judged, qids: list[str]) -> dict[tuple[str, str], int]:
    """(qid, docno) -> label, for the queries drawn."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = judged.table.filter(pc.is_in(judged.table["qid"], value_set=pa.array(qids, pa.string())))
    return dict(zip(zip(table["qid"].to_pylist(), table["docno"].to_pylist()), table["rel"].to_pylist()))


def _categories(job, evals, category_of, source, label):
    """Rows of the per-category table: name, query count, per run (value, comparison or None)."""
    split, tests = compared(evals, True, category_of, source, job.test, job.correction, job.alpha, job.permutations,
                            job.seed)
    by_name = {ev.run_name: ev for ev in split}
    test_of = {c.run_name: c for c in tests if c.measure == label}
    rows = []
    for category in sorted(set(category_of[q] for q in evals[0].qids)):
        cells, means = [], []
        for ev in evals:
            part = by_name.get(f"{ev.run_name} @ {category}")
            mi = [m.label for m in ev.measures].index(label)
            mean = float(part.aggregate()[mi]) if part is not None and part.qids else None
            cells.append(("" if mean is None else value_text(ev.measures[mi], mean),
                          test_of.get(f"{ev.run_name} @ {category}")))
            means.append(mean or 0.0)
        rows.append({"name": category, "count": sum(1 for q in evals[0].qids if category_of.get(q) == category),
                     "cells": cells, "means": means})
    return rows


def _query_views(job, sources, runs, judged, values, qids, anchors, measure,
                 category_of: dict) -> list[page.QueryView]:
    """The queries drawn one by one: text, category, each run's value and top k."""
    topic_text = {t.qid: t.text for t in read_topics(sources.topics, "auto", job.topics_field)} \
        if sources.topics else {}
    tops = _tops(runs, qids, job.top)
    text_of = _texts(job, sources, {d for _, top in tops for docs in top.values() for d in docs}, set(qids))
    label_of = _labels(judged, qids)
    return [page.QueryView(anchors[qid], qid, topic_text.get(qid, ""), category_of.get(qid),
                           [value_text(measure, v[qid]) if qid in v else "" for v in values],
                           page.columns_of(qid, [(run, top.get(qid, [])) for run, top in tops], label_of, text_of,
                                           page.terms(topic_text.get(qid, ""))))
            for qid in qids]


def _per_query_charts(evals, values, anchors, label, names) -> tuple[list[dict], str]:
    """Each run's per-query Δ chart against the first baseline, with its bars' tooltips; and a
    note when the charts leave queries out."""
    out, note = [], ""
    for ev, v in zip(evals[1:], values[1:]):
        diff = page.deltas(v, values[0])
        if len(diff) < len(set(v) & set(values[0])):
            note = f"More than {page.CHART_LIMIT} queries: each chart shows the largest losses and wins."
        out.append({"svg": charts.per_query(diff, anchors, label, names[ev.run_name], names[evals[0].run_name]),
                    "tips": {anchors[q]: f"{q}: Δ {d:+.4f}" for q, d in diff if q in anchors}})
    return out, note


TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank", "permutation": "permutation test"}


def build(job: ReportJob) -> str:
    """The page's HTML."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from .. import __version__

    sources = Sources.of(job)
    baselines = list(dict.fromkeys(job.baseline)) or [job.runs[0]]
    paths = baselines + [p for p in dict.fromkeys(job.runs) if p not in baselines]
    judged = read_qrels(job.qrels)
    runs = [as_run(p, fmt=job.run_format) for p in paths]
    evals = evaluations(judged, runs, job.measure or None, rel_level=job.rel_level, complete=job.complete,
                        max_docs=job.max_docs, gains=job.gains, trec_eval=job.trec_eval)
    shown = page.columns(evals[0])
    if not shown:
        raise LlmrankError("report: no measure with one value per run among -m")
    labels = [evals[0].measures[mi].label for mi in shown]
    tested = page.against_baselines(evals, baselines, job.test, job.correction, job.alpha, job.permutations, job.seed)
    rows = page.summary(evals, {r.name: r.tag for r in runs}, tested)
    values = [page.per_query(ev, labels[0]) for ev in evals]
    qids = page.chosen(values, job.max_queries)
    anchors = {q: f"q{i}" for i, q in enumerate(qids)}
    names = short_names(paths)
    category_of = read_categories(sources.by) if sources.by else {}
    queries = _query_views(job, sources, runs, judged, values, qids, anchors, evals[0].measures[shown[0]],
                           category_of)
    per_query_charts, chart_note = _per_query_charts(evals, values, anchors, labels[0], names)
    categories = _categories(job, evals, category_of, sources.by, labels[0]) if category_of else None
    env = Environment(loader=PackageLoader("llmrank_cli", "resources"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        title=f"llmrank report: {len(paths)} runs, {Path(job.qrels).name if job.qrels != '-' else 'qrels'}",
        settings=[("qrels", job.qrels), ("trec_eval", job.trec_eval), ("queries", len(evals[0].qids)),
                  ("baseline", ", ".join(names[b] for b in baselines)), ("test", job.test),
                  ("correction", job.correction), ("top", job.top)],
        measures=labels, rows=rows, runs=paths, names=names, baselines=baselines,
        compared_with={b: any(b in r.versus for r in rows) for b in baselines}, test_name=TEST_NAMES[job.test],
        correction=job.correction, alpha=job.alpha, chart_measure=labels[0], chart_note=chart_note,
        per_query_charts=per_query_charts, categories=categories,
        category_chart=charts.by_category([(c["name"], c["means"]) for c in categories], [names[p] for p in paths],
                                          labels[0]) if categories else "",
        distribution_chart=charts.distributions([list(v.values()) for v in values], [names[p] for p in paths],
                                                labels[0]),
        queries=queries, query_count=len(values[0]), points=charts.POINTS, item_word=sources.item_word,
        has_texts=job.corpus is not None or sources.responses is not None, version=__version__)


def report(job: ReportJob) -> str:
    """The page, written atomically to ``job.output``: a failure leaves an existing page as it was."""
    html = build(job)
    with atomic_output(job.output) as out:
        out.write(html)
    return html
