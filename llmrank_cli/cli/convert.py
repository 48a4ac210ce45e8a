"""``llmrank convert``: runs between TREC, MS MARCO and Million LLMs submission formats."""
from __future__ import annotations

from typing import Optional

import typer

from . import options
from .app import app

_FORMATS = ("trec", "msmarco", "mllm")


@app.command("convert")
def convert_command(
    source: str = typer.Argument(..., help="Input run or submission (- for stdin)."),
    output: str = options.OUTPUT,
    to: str = typer.Option("trec", "--to", help="trec, msmarco or mllm (Million LLMs submission CSV/TSV)."),
    from_: str = typer.Option("auto", "--from", help="auto, trec, msmarco or mllm."),
    team_id: Optional[str] = typer.Option(None, "--team-id", help="team_id column for --to mllm (default: run tag)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Run tag for --to trec (default: input tag/team id)."),
    depth: Optional[int] = typer.Option(None, "--depth", min=1, help="Keep the top N per query."),
    quiet: bool = options.QUIET,
) -> None:
    """Convert a run; output is in trec_eval order with ranks 1..n."""
    from ..errors import LlmrankError
    from ..formats import read_run, read_submission, write_run, write_submission
    from ..formats.table import first_data_line, load

    if to not in _FORMATS or from_ not in ("auto",) + _FORMATS:
        raise LlmrankError(f"--to must be one of {', '.join(_FORMATS)}; --from auto or one of them")
    if from_ == "auto":
        head = (first_data_line(load(source)) or "").lower() if source != "-" else ""
        from_ = "mllm" if head.startswith("query_id") else "auto"
    run = read_submission(source) if from_ == "mllm" else read_run(source, from_)
    if depth:
        run = run.truncated(depth)
    if to == "mllm":
        write_submission(run, output, team_id)
    else:
        write_run(run, output, fmt=to, tag=tag)
