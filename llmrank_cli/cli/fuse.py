"""``llmrank fuse``: combine runs by RRF, CombSUM or CombMNZ."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import options
from .app import app


@app.command("fuse")
def fuse_command(
    runs: List[str] = typer.Argument(..., help="Runs to fuse (two or more)."),
    method: str = typer.Option("rrf", "--method", help="rrf, combsum or combmnz."),
    rrf_k: int = typer.Option(60, "--rrf-k", help="k in 1/(k + rank) for RRF."),
    norm: str = typer.Option("minmax", "--norm", help="Per-query score normalisation for comb*: none, minmax, zscore."),
    depth: Optional[int] = typer.Option(None, "--depth", min=1, help="Use only the top N of each run."),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="Keep the top K fused documents per query."),
    tag: str = typer.Option("fused", "--tag", help="Run tag of the output."),
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Fuse runs into one TREC run."""
    from ..errors import LlmrankError
    from ..formats import read_run, write_run
    from ..retrieval.fusion import METHODS, NORMS, fuse

    if method not in METHODS or norm not in NORMS:
        raise LlmrankError(f"--method must be one of {', '.join(METHODS)} and --norm one of {', '.join(NORMS)}")
    if len(runs) < 2:
        raise LlmrankError("fuse needs at least two runs")
    fused = fuse([read_run(p) for p in runs], method, rrf_k, norm, depth, tag)
    write_run(fused.truncated(k) if k else fused, output, tag=tag)
