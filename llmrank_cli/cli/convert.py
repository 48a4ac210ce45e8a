"""``llmrank convert``: runs between TREC, MS MARCO and Million LLMs submission formats."""
from __future__ import annotations

from typing import Optional

import typer

from . import options
from .app import app


@app.command("convert")
def convert_command(
    source: str = typer.Argument(..., help="Input run or submission (- for stdin)."),
    output: str = options.OUTPUT,
    fmt: str = typer.Option("trec", "--format", help="trec, msmarco or mllm (Million LLMs submission CSV/TSV)."),
    input_format: str = typer.Option("auto", "--input-format", help="auto, trec, msmarco or mllm."),
    team_id: Optional[str] = typer.Option(None, "--team-id", help="team_id column of an mllm output (default: "
                                                                  "the run tag)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Run tag of a trec output (default: the input's tag or "
                                                          "team id)."),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="Keep the top K per query (default: all)."),
    quiet: bool = options.QUIET,
) -> None:
    """Convert a run; output is in trec_eval order with ranks 1..n."""
    from ..pipelines.runs import convert

    convert(source, output, fmt, input_format, team_id, tag, k)
