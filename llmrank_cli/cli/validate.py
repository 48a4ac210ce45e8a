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
    from ..errors import EXIT_FINDINGS
    from ..pipelines.runs import validate_files

    findings = validate_files(runs, qrels, topics, topics_format, topics_field, run_format, pool)
    for f in findings:
        typer.echo(str(f), err=True)
    errors = sum(f.severity == "error" for f in findings)
    typer.echo(f"{len(runs)} run(s) checked: {errors} error(s), {len(findings) - errors} warning(s)", err=True)
    return EXIT_FINDINGS if errors else 0
