"""``llmrank merge``: one run from the shards of a sharded or multi-process rerank."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import options
from .app import app


@app.command("merge")
def merge_command(
    runs: List[str] = typer.Argument(..., help="Shard outputs to join."),
    topics: Optional[str] = typer.Option(None, "--topics", help="Also check that every topic is present."),
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Join shard runs; every query must come from exactly one shard."""
    from ..formats import read_run, read_topics, write_run
    from ..pipelines.score import merge_runs

    merged = merge_runs([read_run(p) for p in runs], read_topics(topics) if topics else None)
    write_run(merged, output)
