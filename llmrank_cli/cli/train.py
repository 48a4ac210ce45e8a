"""``llmrank train NAME`` and ``llmrank cv NAME``: one command per trainable ranker in the
registry, its flags generated from the ranker's settings (``cli/flags.py``) beside the flags of
the data it trains on (an item data directory, or passage topics/qrels/corpus)."""
from __future__ import annotations

import inspect
import sys
from functools import partial
from typing import List, Optional

import typer

from .. import rankers
from ..datasets.heads import HeadsData
from ..datasets.items import ItemData
from ..datasets.passages import PassageExamples
from . import flags, options
from .app import app, note, state

train_app = typer.Typer(no_args_is_help=True, help="Train a ranker: an item ranker (NAME --data DIR) or a passage "
                                                     "reranker (cross-encoder --encoder MODEL ...).")
cv_app = typer.Typer(no_args_is_help=True, help="K-fold cross-validation by query of a trainable ranker: an "
                                                  "out-of-fold run over all queries (NAME.run), metrics per fold with "
                                                  "mean, std and 95% CI (NAME.cv.json), and a table.")
app.add_typer(train_app, name="train")
app.add_typer(cv_app, name="cv")


def _item_data_flags(
    weak_labels: float = options.WEAK_LABELS,
    seed: int = options.SEED,
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `train NAME` and `cv NAME` for item rankers."""


def _item_train_flags(
    data: Optional[str] = typer.Option(None, "--data", help="Data directory from `prepare mllm|items`."),
    topics: Optional[str] = typer.Option(None, "--topics", help="Instead of --data: topics..."),
    qrels: Optional[str] = typer.Option(None, "--qrels", help="...their qrels..."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="...and optionally a corpus whose passages are the "
                                                                 "items (as `prepare items`; written to OUT/data)."),
    run: Optional[str] = typer.Option(None, "--run", help="With --corpus: each query's items are this "
                                             "run's top --depth passages (language rankers)."),
    depth: int = typer.Option(100, "--depth", min=1, help="Candidates per query from --run."),
    teacher_run: Optional[str] = typer.Option(None, "--teacher-run", help="With --topics and --corpus, instead of "
                                              "--qrels/--run (language rankers): each query's pool is this "
                                              "run's top --depth passages, its scores the graded labels to learn "
                                              "(e.g. a bi-encoder's from `llmrank rerank`)."),
    fold: Optional[int] = typer.Option(None, "--fold", help="Hold out this fold (train on the others)."),
    all_: bool = typer.Option(False, "--all", help="Train on every query."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted training from its last epoch "
                                                         "(OUT/checkpoints/)."),
    output: str = typer.Option(..., "-o", "--output", help="Model directory."),
) -> None:
    """Flags of `train NAME` for item rankers only (the settings' flags follow)."""


def _item_cv_flags(
    data: str = options.DATA,
    folds: Optional[int] = typer.Option(None, "--folds", min=2, help="Folds (default: the data directory's)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted cv: its finished folds "
                                                         "(OUT/NAME.folds/) are not trained again."),
    output: str = typer.Option(..., "-o", "--output", help="Directory for the OOF run and the metrics JSON."),
) -> None:
    """Flags of `cv NAME` for item rankers only (the settings' flags follow)."""


def _train_items(name: str, fixed: dict, given: dict) -> None:
    from types import SimpleNamespace

    from ..pipelines import items

    done = items.train(name, SimpleNamespace(**fixed), flags.values(rankers.get(name).Settings, given), state.quiet)
    if done:
        last = done["last_epoch"]
        note(f"model written to {done['model']}" + (
            f"; held-out fold {fixed['fold']}: nDCG@10 {last['eval_nDCG@10']:.4f}, per-epoch log in "
            f"{fixed['output']}/epochs.csv, curves in {fixed['output']}/curves.png" if "eval_nDCG@10" in last else ""))


def _cv_items(name: str, fixed: dict, given: dict) -> None:
    from types import SimpleNamespace

    from ..evaluation.report import write_cv
    from ..pipelines import items

    result, evaluation = items.cross_validate(name, SimpleNamespace(**fixed),
                                              flags.values(rankers.get(name).Settings, given), state.quiet)
    if result is not None:
        write_cv(result, evaluation, sys.stdout)


def _passage_example_flags(
    negatives: str = typer.Option("hard", "--negatives", help="hard (from --run) or random (from --corpus)."),
    per_positive: int = typer.Option(4, "--negatives-per-positive", min=1, help="Negatives sampled per positive."),
    negatives_depth: int = typer.Option(100, "--negatives-depth", min=1, help="Hard negatives come from this top."),
    rel_level: int = typer.Option(1, "--rel-level", help="Lowest label of a positive, as eval's -l (TREC DL: 2)."),
    teacher_depth: int = typer.Option(100, "--teacher-depth", min=1, help="Teacher pairs per topic (--teacher-run)."),
) -> None:
    """Flags of `train NAME` and `cv NAME` for passage rerankers: how examples are drawn."""


def _passage_train_flags(
    topics: Optional[str] = typer.Option(None, "--topics", help="Training topics."),
    qrels: Optional[str] = typer.Option(None, "--qrels", help="Training qrels: positives are labels >= --rel-level."),
    run: Optional[str] = typer.Option(None, "--run", help="Run whose non-relevant top documents "
                                                                           "are the hard negatives."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Passage texts (JSONL/TSV/TREC/SMART, .gz ok)."),
    triples: Optional[str] = typer.Option(None, "--triples", help="MS MARCO triples instead of qrels: qid/pos/neg "
                                                                   "ids (with --topics, --corpus) or texts."),
    teacher_run: Optional[str] = typer.Option(None, "--teacher-run", help="Distil this run's scores (e.g. a "
                                              "bi-encoder's from `llmrank rerank`) on the topics' top --teacher-depth "
                                              "instead of learning from qrels."),
    eval_topics: Optional[str] = typer.Option(None, "--eval-topics", help="Evaluate after every epoch on these..."),
    eval_qrels: Optional[str] = typer.Option(None, "--eval-qrels", help="...judgements..."),
    eval_run: Optional[str] = typer.Option(None, "--eval-run", help="...reranking this run's top --eval-depth."),
    eval_corpus: Optional[str] = typer.Option(None, "--eval-corpus", help="Passages of the eval run "
                                                                          "(default: --corpus)."),
    eval_depth: int = typer.Option(100, "--eval-depth", min=1),
    measures: Optional[List[str]] = typer.Option(None, "-m", "--measure", help="Eval measures (first = primary); "
                                                 "default nDCG@10 AP(rel=2) R(rel=2)@10 Rprec(rel=2) "
                                                 "P(rel=2)@10 RR(rel=2)@10."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted training from its last "
                                                         "checkpoint."),
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    output: str = typer.Option(..., "-o", "--output", help="Model directory (a CrossEncoder directory)."),
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `train NAME` for passage rerankers (the settings' flags follow)."""


def _train_passages(name: str, fixed: dict, given: dict) -> None:
    """Fine-tune a passage reranker (pipelines/passages.py) and report its best epoch."""
    from types import SimpleNamespace

    from ..pipelines import passages

    summary = passages.train(name, SimpleNamespace(**fixed), flags.values(rankers.get(name).Settings, given),
                             state.quiet)
    if summary is None:
        return
    out = fixed["output"]
    if summary["best_epoch"] is not None:
        best = next(e for e in summary["epochs"] if e["epoch"] == summary["best_epoch"])
        note(f"best epoch {summary['best_epoch']}: {summary['primary_measure'][5:]} "
             f"{best[summary['primary_measure']]:.4f}; per-epoch log in {out}/epochs.csv, curves in {out}/curves.png")
    note(f"model written to {out} ({summary['saved']})")


def _passage_cv_flags(
    topics: str = typer.Option(..., "--topics", help="Topics, split into folds by query."),
    qrels: str = typer.Option(..., "--qrels", help="Qrels: training positives (>= --rel-level) and evaluation."),
    run: str = typer.Option(..., "--run", help="Run to rerank: hard negatives for training, its "
                                                             "held-out queries' top --depth for scoring."),
    corpus: str = typer.Option(..., "--corpus", help="Passage texts (JSONL/TSV/TREC/SMART, .gz ok)."),
    teacher_run: Optional[str] = typer.Option(None, "--teacher-run", help="Distil this run's scores on the training "
                                              "folds' topics instead of learning from qrels."),
    folds: int = options.FOLDS,
    depth: int = typer.Option(100, "--depth", min=1, help="Rerank the held-out queries' top N."),
    measures: Optional[List[str]] = typer.Option(None, "-m", "--measure", help="Measures (default as train's)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted cv: finished folds "
                                                         "(fold-K/held-out.run) are kept, an interrupted fold's "
                                                         "training continues from its last checkpoint."),
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    output: str = typer.Option(..., "-o", "--output", help="Directory: fold-K/ models, NAME.run (out of fold), "
                                                           "NAME.cv.json."),
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `cv NAME` for passage rerankers (the settings' flags follow)."""


def _cv_passages(name: str, fixed: dict, given: dict) -> None:
    from types import SimpleNamespace

    from ..evaluation.report import write_cv
    from ..pipelines import passages

    result, ev = passages.cross_validate(name, SimpleNamespace(**fixed),
                                         flags.values(rankers.get(name).Settings, given), state.quiet)
    write_cv(result, ev, sys.stdout)


def _heads_train_flags(
    data: str = typer.Option(..., "--data", help="Heads directory from `prepare heads` (training queries)."),
    eval_data: Optional[str] = typer.Option(None, "--eval-data", help="Another heads directory: write OUT/eval/ runs "
                                             "of this model, all heads (ICR), and the per-query oracle, from its "
                                             "cached scores."),
    seed: int = options.SEED,
    output: str = typer.Option(..., "-o", "--output", help="Model directory (for rerank --kind icr --model DIR)."),
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `train NAME` for head routers (the settings' flags follow)."""


def _train_heads(name: str, fixed: dict, given: dict) -> None:
    from types import SimpleNamespace

    from ..pipelines import heads

    out = heads.train(name, SimpleNamespace(**fixed), flags.values(rankers.get(name).Settings, given), state.quiet)
    note(f"model written to {out}")


# What `train NAME` and `cv NAME` are, by the example type a ranker learns from (its
# ``trains_on``): (flag functions, the call). A ranker that learns from one of these types is one
# module; a new type of example brings its pipeline module and a line here.
_TRAIN = {ItemData: ((_item_data_flags, _item_train_flags), _train_items),
          PassageExamples: ((_passage_train_flags, _passage_example_flags), _train_passages),
          HeadsData: ((_heads_train_flags,), _train_heads)}
_CV = {ItemData: ((_item_data_flags, _item_cv_flags), _cv_items),
       PassageExamples: ((_passage_cv_flags, _passage_example_flags), _cv_passages)}


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
        fixed, body = _TRAIN[cls.trains_on]
        for shown in [name, *rankers.aliases_of(name)]:
            hidden = shown != name
            train_app.command(shown, hidden=hidden)(flags.command(fixed, extra, partial(body, name),
                                                                  f"Train {name}. {_summary(cls)}"))
            if cls.trains_on not in _CV:
                continue
            cv_fixed, cv_body = _CV[cls.trains_on]
            cv_app.command(shown, hidden=hidden)(flags.command(cv_fixed, extra, partial(cv_body, name),
                                                               f"Cross-validate {name}. {_summary(cls)}"))


_register_commands()
