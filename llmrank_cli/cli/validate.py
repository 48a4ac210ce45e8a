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
    topics_format: str = options.TOPICS_FORMAT,
    topics_field: str = options.TOPICS_FIELD,
    run_format: str = options.RUN_FORMAT,
    quiet: bool = options.QUIET,
) -> int:
    """Report duplicate docnos, non-finite scores, rank/score disagreement, ties at cutoffs,
    missing queries and empty topics. Exit 1 if any error was found (2: unreadable input)."""
    from ..api import validate
    from ..errors import EXIT_FINDINGS
    from ..evaluation.validation import validate_topics
    from ..formats import read_qrels, read_run, read_topics

    qrels_data = read_qrels(qrels) if qrels else None
    if qrels_data is not None:
        qrels_data.check_unique()
    topic_list = read_topics(topics, topics_format, topics_field) if topics else None
    findings = validate_topics(topic_list, topics) if topic_list is not None else []
    for path in runs:
        findings += validate(read_run(path, run_format, check=False), qrels_data, topic_list)
    for f in findings:
        typer.echo(str(f), err=True)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    typer.echo(f"{len(runs)} run(s) checked: {errors} error(s), {warnings} warning(s)", err=True)
    return EXIT_FINDINGS if errors else 0
