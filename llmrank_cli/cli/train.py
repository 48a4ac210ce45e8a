"""``llmrank train NAME`` and ``llmrank cv NAME``: one command per trainable ranker in the
registry, its flags generated from the job of the examples it learns from (``jobs/training.py``:
an item data directory, passage topics/qrels/corpus, cached heads) and from its settings."""
from __future__ import annotations

import inspect
import sys
from functools import partial

import typer

from .. import rankers
from ..jobs.training import HeadsTrainJob, ItemTrainJob, PassageTrainJob, cv_job, train_job
from . import flags
from .app import app, note, state

train_app = typer.Typer(no_args_is_help=True, help="Train a ranker: an item ranker (NAME --data DIR) or a passage "
                                                     "reranker (cross-encoder --encoder MODEL ...).")
cv_app = typer.Typer(no_args_is_help=True, help="K-fold cross-validation by query of a trainable ranker: an "
                                                  "out-of-fold run over all queries (NAME.run), metrics per fold with "
                                                  "mean, std and 95% CI (NAME.cv.json), and a table.")
app.add_typer(train_app, name="train")
app.add_typer(cv_app, name="cv")


def _train_items(name: str, job, given: dict) -> None:
    from ..pipelines import items

    done = items.train(name, job, flags.values(rankers.get(name).Settings, given), state.quiet)
    if done:
        last = done["last_epoch"]
        note(f"model written to {done['model']}" + (
            f"; held-out fold {job.fold}: nDCG@10 {last['eval_nDCG@10']:.4f}, per-epoch log in "
            f"{job.output}/epochs.csv, curves in {job.output}/curves.png" if "eval_nDCG@10" in last else ""))


def _train_passages(name: str, job, given: dict) -> None:
    """Fine-tune a passage reranker (pipelines/passages.py) and report its best epoch."""
    from ..pipelines import passages

    summary = passages.train(name, job, flags.values(rankers.get(name).Settings, given), state.quiet)
    if summary is None:
        return
    if summary["best_epoch"] is not None:
        best = next(e for e in summary["epochs"] if e["epoch"] == summary["best_epoch"])
        note(f"best epoch {summary['best_epoch']}: {summary['primary_measure'][5:]} "
             f"{best[summary['primary_measure']]:.4f}; per-epoch log in {job.output}/epochs.csv, curves in "
             f"{job.output}/curves.png")
    note(f"model written to {job.output} ({summary['saved']})")


def _train_heads(name: str, job, given: dict) -> None:
    from ..pipelines import heads

    note(f"model written to {heads.train(name, job, flags.values(rankers.get(name).Settings, given), state.quiet)}")


def _cv(name: str, job, given: dict) -> None:
    from ..evaluation.report import write_cv
    from ..pipelines import cross_validate

    result, evaluation = cross_validate(name, job, flags.values(rankers.get(name).Settings, given), state.quiet)
    if result is not None:
        write_cv(result, evaluation, sys.stdout)


# How `train NAME` reports, by the job of the examples the ranker learns from (jobs/training.py);
# a new type of example brings its job, its pipeline module and a line here.
_REPORT = {ItemTrainJob: _train_items, PassageTrainJob: _train_passages, HeadsTrainJob: _train_heads}


def _summary(cls: type) -> str:
    """The first sentence of a ranker module's docstring, for its command's help."""
    doc = " ".join((inspect.getdoc(sys.modules[cls.__module__]) or cls.__name__).split("\n\n")[0].split())
    return doc.split(". ")[0].rstrip(".") + "."


def _register_commands() -> None:
    for name in rankers.names():
        cls = rankers.get(name)
        if cls.trains_on is None:
            continue
        extra = flags.parameters(cls.Settings, rankers.preset(name))
        job, cv = train_job(cls), cv_job(cls)
        for shown in [name, *rankers.aliases_of(name)]:
            hidden = shown != name
            train_app.command(shown, hidden=hidden)(flags.job_command(job, extra, partial(_REPORT[job], name),
                                                                      f"Train {name}. {_summary(cls)}"))
            if cv is not None:
                cv_app.command(shown, hidden=hidden)(flags.job_command(cv, extra, partial(_cv, name),
                                                                       f"Cross-validate {name}. {_summary(cls)}"))


_register_commands()
