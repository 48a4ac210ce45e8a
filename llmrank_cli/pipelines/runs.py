"""Work on finished runs: ``eval``'s evaluation, paired tests and per-category breakdown, written
in the chosen format; ``convert`` between run and submission formats. Light: imports no ranker,
torch or pandas."""
from __future__ import annotations

from ..api import evaluations
from ..errors import LlmrankError
from ..evaluation import render
from ..evaluation.breakdown import compared
from ..evaluation.gain_table import trec_gain_order_differs
from ..evaluation.versions import unranked_note, version
from ..formats import read_categories
from ..formats.io import atomic_output
from ..jobs.evaluation import EvalJob
from ..kit.heap import keep_freed_memory, large_input
from ..progress import note


def evaluate_report(job: EvalJob) -> None:
    """Every run against the qrels (the baseline first), the paired tests and categories the job
    asks for, rendered to ``job.output``."""
    if large_input([job.qrels, *job.runs]):
        keep_freed_memory()
    category_of = read_categories(job.by) if job.by is not None else None
    paths = [job.baseline] + [p for p in job.runs if p != job.baseline] if job.baseline is not None else list(job.runs)
    evals = evaluations(job.qrels, paths, job.measure or (["official"] if job.fmt == "trec" else None),
                        rel_level=job.rel_level, complete=job.complete, max_docs=job.max_docs, gains=job.gains,
                        run_format=job.run_format, trec_eval=job.trec_eval)
    for m in evals[0].measures:
        if m.trec_gains and trec_gain_order_differs(m.trec_gains):
            note(f"llmrank: note: {m.label} reproduces trec_eval, whose gain sort truncates differences "
                 f"to integers, so gains less than 1 apart are not ordered; use --gains for true gain order")
    for ev in evals:
        if ev.unranked and not job.complete and version(job.trec_eval).stand_in:
            note(unranked_note(ev.run_name, ev.unranked, len(ev.qids)))
    evals, comparisons = compared(evals, job.baseline is not None, category_of, job.by, job.test, job.correction,
                                  job.alpha, job.permutations, job.seed)
    settings = {k: getattr(job, k) for k in ("qrels", "trec_eval", "rel_level", "complete", "max_docs", "gains", "by",
                                            "baseline", "test", "correction", "alpha")}
    with atomic_output(job.output) as out:
        render(job.fmt, evals, out, job.per_query, comparisons, settings)


def validate_files(runs: list[str], qrels: str | None = None, topics: str | None = None,
                   topics_format: str = "auto", topics_field: str = "title", run_format: str = "auto",
                   pool: str | None = None) -> list:
    """``validate``'s findings: the topics', then each run's against the qrels and topics, and
    with ``pool`` (LLM ids or a data directory) what TREC Million LLMs refuses, the files taken
    together included (runs per team, run tags shared)."""
    from ..api import validate
    from ..evaluation.submission import read_pool, validate_submission_set
    from ..evaluation.validation import validate_topics
    from ..formats import read_qrels, read_run, read_topics
    from ..formats.runs import run_tags

    judged = read_qrels(qrels) if qrels else None
    if judged is not None:
        judged.check_unique()
    topic_list = read_topics(topics, topics_format, topics_field) if topics else None
    findings = validate_topics(topic_list, topics) if topic_list is not None else []
    llms = read_pool(pool) if pool else None
    tags_of = {}
    for path in runs:
        run = read_run(path, "trec" if pool else run_format, check=False)
        tags_of[run.name] = run_tags(path) if pool and path != "-" else [run.tag]
        findings += validate(run, judged, topic_list, llms, tags_of[run.name])
    return findings + (validate_submission_set(tags_of) if pool else [])


CONVERT_FORMATS = ("trec", "msmarco", "mllm")


def convert(source: str, output: str, fmt: str = "trec", input_format: str = "auto", team_id: str | None = None,
            tag: str | None = None, k: int | None = None) -> None:
    """A run or Million LLMs submission rewritten as ``fmt``, in trec_eval's order with ranks
    1..n; ``auto`` tells a submission by its header line."""
    from ..formats import read_run, read_submission, write_run, write_submission
    from ..formats.table import first_data_line, load

    if fmt not in CONVERT_FORMATS or input_format not in ("auto",) + CONVERT_FORMATS:
        raise LlmrankError(f"--format must be one of {', '.join(CONVERT_FORMATS)}; --input-format auto or one of them")
    if input_format == "auto":
        head = (first_data_line(load(source)) or "").lower() if source != "-" else ""
        input_format = "mllm" if head.startswith("query_id") else "auto"
    run = read_submission(source) if input_format == "mllm" else read_run(source, input_format)
    if k:
        run = run.truncated(k)
    if fmt == "mllm":
        write_submission(run, output, team_id)
    else:
        write_run(run, output, fmt=fmt, tag=tag)
