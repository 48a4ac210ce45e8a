"""``llmrank validate``: check runs (and their qrels/topics) before trusting them."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import options
from .app import app


@app.command("validate")
def validate_command(
    runs: List[str] = typer.Argument(..., help="Runs to check (TREC or MS MARCO format)."),
    qrels: Optional[str] = typer.Option(None, "--qrels", help="Check query coverage against these qrels."),
    topics: Optional[str] = typer.Option(None, "--topics", help="Check coverage and empty texts of these topics."),
    pool: Optional[str] = typer.Option(None, "--pool", help="Check the runs as TREC Million LLMs takes them: this "
                                       "pool of LLMs (one id a line, or a data directory) ranked whole, once, ranks "
                                       "1..N by score, one run tag per file, the --topics' ids, at most 5 runs."),
    topics_format: str = options.TOPICS_FORMAT,
    topics_field: str = options.TOPICS_FIELD,
    run_format: str = options.RUN_FORMAT,
    quiet: bool = options.QUIET,
) -> int:
    """Report duplicate docnos, non-finite scores, rank/score disagreement, ties at cutoffs,
    missing queries and empty topics; with --pool, what TREC Million LLMs would refuse. Exit 1
    if any error was found (2: unreadable input)."""
    from ..api import validate
    from ..errors import EXIT_FINDINGS
    from ..evaluation.submission import read_pool, validate_submission_set
    from ..evaluation.validation import validate_topics
    from ..formats import read_qrels, read_run, read_topics
    from ..formats.runs import run_tags

    qrels_data = read_qrels(qrels) if qrels else None
    if qrels_data is not None:
        qrels_data.check_unique()
    topic_list = read_topics(topics, topics_format, topics_field) if topics else None
    findings = validate_topics(topic_list, topics) if topic_list is not None else []
    llms = read_pool(pool) if pool else None
    tags_of = {}
    for path in runs:
        run = read_run(path, "trec" if pool else run_format, check=False)
        tags_of[run.name] = run_tags(path) if pool and path != "-" else [run.tag]
        findings += validate(run, qrels_data, topic_list, llms, tags_of[run.name])
    if pool:
        findings += validate_submission_set(tags_of)
    for f in findings:
        typer.echo(str(f), err=True)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    typer.echo(f"{len(runs)} run(s) checked: {errors} error(s), {warnings} warning(s)", err=True)
    return EXIT_FINDINGS if errors else 0
