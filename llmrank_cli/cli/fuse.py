"""``llmrank fuse``: combine runs by RRF, CombSUM or CombMNZ."""
from __future__ import annotations

from typing import List, Optional

import typer

from ..settings import GLOSSARY
from . import options
from .app import app


@app.command("fuse")
def fuse_command(
    runs: List[str] = typer.Argument(..., help="Runs to fuse (two or more)."),
    method: str = typer.Option("rrf", "--method", help="rrf, combsum or combmnz."),
    rrf_k: int = typer.Option(60, "--rrf-k", help="k in 1/(k + rank) for RRF."),
    norm: str = typer.Option("minmax", "--norm", help="Per-query score normalisation for comb*: none, minmax, zscore."),
    depth: Optional[int] = options.term("depth", min=1, default=None, help=f"{GLOSSARY['depth'].meaning}: fused "
                                        "(default: all)."),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="Keep the top K fused documents per query."),
    tag: str = typer.Option("fused", "--tag", help="Run tag of the output."),
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Fuse runs into one TREC run."""
    from ..api import fuse
    from ..formats import write_run

    write_run(fuse(runs, method, rrf_k=rrf_k, norm=norm, depth=depth, k=k, tag=tag), output, tag=tag)
