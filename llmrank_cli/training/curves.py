"""A training's log and curves, for both trainers: ``epochs.json|csv`` (one row per epoch:
mean training loss, evaluation measures), ``trainer_log.json`` (every logged step) and
``curves.png`` (loss, learning rate, gradient norm, measures per epoch)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..formats.io import atomic_output


def write_log(directory: Path, epochs: list[dict], history: list[dict]) -> None:
    with atomic_output(directory / "epochs.json") as fh:
        json.dump(epochs, fh, indent=2)
    columns = list(dict.fromkeys(k for row in epochs for k in row))
    with atomic_output(directory / "epochs.csv") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(epochs)
    with atomic_output(directory / "trainer_log.json") as fh:
        json.dump(history, fh, indent=2)


def plot_curves(history: list[dict], epochs: list[dict], path: Path) -> None:
    """Training/eval loss, learning rate, gradient norm and eval measures by step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    series = {key: [(e["step"], e[key]) for e in history if key in e] for key in ("loss", "learning_rate", "grad_norm")}
    for ax, key, title in zip(axes.flat, ("loss", "learning_rate", "grad_norm"),
                              ("loss", "learning rate", "gradient norm (before clipping)")):
        if series[key]:
            ax.plot(*zip(*series[key]), label="train" if key == "loss" else None)
        ax.set_title(title)
        ax.set_xlabel("step")
    eval_loss = [(e["step"], e["eval_loss"]) for e in epochs if e.get("eval_loss") is not None]
    if eval_loss:
        axes[0, 0].plot(*zip(*eval_loss), "o-", label="eval")
    axes[0, 0].legend()
    measures = [k for k in dict.fromkeys(k for e in epochs for k in e) if k.startswith("eval_") and k != "eval_loss"]
    for key in measures:
        axes[1, 1].plot([e["epoch"] for e in epochs if key in e], [e[key] for e in epochs if key in e], "o-",
                        label=key[len("eval_"):])
    axes[1, 1].set_title("evaluation per epoch")
    axes[1, 1].set_xlabel("epoch")
    if measures:
        axes[1, 1].legend(fontsize="small")
    fig.tight_layout()
    with atomic_output(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
