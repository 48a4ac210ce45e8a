"""``llmrank train`` and ``llmrank cv``: item rankers (LLMs per query) on a data directory."""
from __future__ import annotations

from typing import Optional

import typer

from . import options
from .app import app, note, state

_ARCH_HELP = ("prior, random, two-tower-baseline, two-tower-tier1, two-tower-tier2 (aliases baseline, tier1, tier2).")


def _overrides(epochs, lr, batch_size, optimizer) -> dict:
    return {"epochs": epochs, "lr": lr, "batch_size": batch_size, "optimizer": optimizer}


@app.command("train")
def train_command(
    arch: str = typer.Argument(..., help=_ARCH_HELP),
    data: str = options.DATA,
    fold: Optional[int] = typer.Option(None, "--fold", help="Hold out this fold (train on the others)."),
    all_: bool = typer.Option(False, "--all", help="Train on every query."),
    epochs: Optional[int] = options.EPOCHS,
    lr: Optional[float] = options.LR,
    batch_size: Optional[int] = options.BATCH_SIZE,
    optimizer: Optional[str] = options.OPTIMIZER,
    seed: int = options.SEED,
    output: str = typer.Option(..., "-o", "--output", help="Model directory."),
    quiet: bool = options.QUIET,
) -> None:
    """Train one model and save it with a manifest (architecture, preset, settings, seed, data
    fingerprint, versions)."""
    import numpy as np

    from .. import item_ranking
    from ..datasets import load_items
    from ..errors import LlmrankError
    from ..progress import Progress

    state.quiet = state.quiet or quiet
    if (fold is None) == (not all_):
        raise LlmrankError("give exactly one of --fold K or --all")
    d = load_items(data)
    train_idx = np.arange(len(d.qids)) if all_ else np.flatnonzero(d.folds != fold)
    overrides = _overrides(epochs, lr, batch_size, optimizer)
    progress = Progress(f"train {arch}", state.quiet, unit="epochs")
    progress.start(overrides["epochs"] or 30)
    try:
        model = item_ranking.train(arch, d, train_idx, seed, overrides, progress)
    finally:
        progress.close()
    note(f"model written to {item_ranking.save(model, output, d, seed, fold)}")


@app.command("cv")
def cv_command(
    arch: str = typer.Argument(..., help=_ARCH_HELP),
    data: str = options.DATA,
    folds: Optional[int] = typer.Option(None, "--folds", min=2, help="Folds (default: the data directory's)."),
    epochs: Optional[int] = options.EPOCHS,
    lr: Optional[float] = options.LR,
    batch_size: Optional[int] = options.BATCH_SIZE,
    optimizer: Optional[str] = options.OPTIMIZER,
    seed: int = options.SEED,
    output: str = typer.Option(..., "-o", "--output", help="Directory for the OOF run and the metrics JSON."),
    quiet: bool = options.QUIET,
) -> None:
    """K-fold cross-validation by query: an out-of-fold run over all queries (ARCH.run), metrics
    per fold with mean, std and 95% CI (ARCH.cv.json), and a table."""
    from rich.console import Console
    from rich.table import Table

    from .. import item_ranking
    from ..datasets import load_items
    from ..progress import Progress

    state.quiet = state.quiet or quiet
    d = load_items(data)
    k = folds or d.meta["folds"]
    overrides = _overrides(epochs, lr, batch_size, optimizer)
    progress = Progress(f"cv {arch}", state.quiet, unit="epochs")
    per_fold = 1 if arch in ("prior", "random") else (overrides["epochs"] or 30)
    progress.start(k * per_fold)
    try:
        result = item_ranking.cross_validate(arch, d, k, seed, overrides, output, progress)
    finally:
        progress.close()
    table = Table(title=f"{result['architecture']}: {k}-fold CV, {result['queries']} queries")
    for col in ("measure", "mean", "std", "95% CI"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for name, m in result["measures"].items():
        table.add_row(name, f"{m['mean']:.4f}", f"{m['std']:.4f}", f"{m['ci95'][0]:.4f}–{m['ci95'][1]:.4f}")
    Console().print(table)
