"""``llmrank train`` (item rankers on a data directory; passage cross-encoders) and ``llmrank cv``."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import options
from .app import app, note, state

_ARCH_HELP = ("prior, random, two-tower-baseline, two-tower-tier1, two-tower-tier2, llm-cross-encoder "
              "(aliases baseline, tier1, tier2, tier3).")

train_app = typer.Typer(no_args_is_help=True, help="Train a model: an item ranker (ARCH --data DIR) or a passage "
                                                     "cross-encoder (cross-encoder --base MODEL ...).")
app.add_typer(train_app, name="train")


def _overrides(arch, epochs, lr, batch_size, optimizer, train_layers) -> dict:
    from ..architectures import ALIASES
    from ..errors import LlmrankError

    if train_layers is not None and ALIASES.get(arch, arch) != "llm-cross-encoder":
        raise LlmrankError(f"--train-layers is an llm-cross-encoder (tier3) option, not {arch}'s")
    return {"epochs": epochs, "lr": lr, "batch_size": batch_size, "optimizer": optimizer,
            "train_layers": train_layers}


def _epochs(arch: str, overrides: dict) -> int:
    """Epochs per model, for the progress bar (1 for models fitted in one step)."""
    from .. import architectures

    return architectures.create(arch, **overrides).config().get("epochs", 1)


def _train_items(arch, data, fold, all_, overrides, weak_labels, seed, output) -> None:
    import numpy as np

    from .. import item_ranking
    from ..datasets import load_items
    from ..errors import LlmrankError
    from ..progress import Progress

    if (fold is None) == (not all_):
        raise LlmrankError("give exactly one of --fold K or --all")
    d = load_items(data)
    train_idx = np.arange(len(d.qids)) if all_ else np.flatnonzero(d.folds != fold)
    trained_on = d.with_weak_labels(weak_labels) if weak_labels else d
    progress = Progress(f"train {arch}", state.quiet, unit="epochs")
    progress.start(_epochs(arch, overrides))
    try:
        model = item_ranking.train(arch, trained_on, train_idx, seed, overrides, progress)
    finally:
        progress.close()
    note(f"model written to {item_ranking.save(model, output, d, seed, fold, weak_labels)}")


def _item_command(arch: str):
    def command(
        data: str = options.DATA,
        fold: Optional[int] = typer.Option(None, "--fold", help="Hold out this fold (train on the others)."),
        all_: bool = typer.Option(False, "--all", help="Train on every query."),
        epochs: Optional[int] = options.EPOCHS,
        lr: Optional[float] = options.LR,
        batch_size: Optional[int] = options.BATCH_SIZE,
        optimizer: Optional[str] = options.OPTIMIZER,
        train_layers: Optional[int] = options.TRAIN_LAYERS,
        weak_labels: float = options.WEAK_LABELS,
        seed: int = options.SEED,
        output: str = typer.Option(..., "-o", "--output", help="Model directory."),
        quiet: bool = options.QUIET,
    ) -> None:
        _train_items(arch, data, fold, all_, _overrides(arch, epochs, lr, batch_size, optimizer, train_layers),
                     weak_labels, seed, output)

    command.__doc__ = f"Item ranker {arch} on a data directory; the model directory gets a manifest."
    return command


def _register_item_commands() -> None:
    from ..architectures import ALIASES, names

    for name in names():
        train_app.command(name, hidden=name in ALIASES)(_item_command(name))


_register_item_commands()


@train_app.command("cross-encoder")
def train_cross_encoder_command(
    base: str = typer.Option(..., "--base", help="Encoder to start from: directory, hub id, or offline model name."),
    topics: Optional[str] = typer.Option(None, "--topics", help="Training topics."),
    qrels: Optional[str] = typer.Option(None, "--qrels", help="Training qrels: positives are labels >= --rel-level."),
    candidates: Optional[str] = typer.Option(None, "--candidates", help="Run whose non-relevant top documents "
                                                                           "are the hard negatives."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Passage texts (JSONL/TSV/TREC/SMART, .gz ok)."),
    triples: Optional[str] = typer.Option(None, "--triples", help="MS MARCO triples instead of qrels: qid/pos/neg "
                                                                   "ids (with --topics, --corpus) or texts."),
    negatives: str = typer.Option("hard", "--negatives", help="hard (from --candidates) or random (from --corpus)."),
    per_positive: int = typer.Option(4, "--negatives-per-positive", min=1, help="Negatives sampled per positive."),
    negatives_depth: int = typer.Option(100, "--negatives-depth", min=1, help="Hard negatives come from this top."),
    rel_level: int = typer.Option(2, "--rel-level", help="Lowest relevant label (2 for TREC DL passages)."),
    teacher_run: Optional[str] = typer.Option(None, "--teacher-run", help="Distil this run's scores (e.g. a "
                                              "bi-encoder's from `llmrank rerank`) on the topics' top --teacher-depth "
                                              "instead of learning from qrels."),
    teacher_depth: int = typer.Option(100, "--teacher-depth", min=1, help="Teacher pairs per topic."),
    loss: Optional[str] = typer.Option(None, "--loss", help="bce (pointwise), lambda (LambdaLoss) or listnet "
                                       "(listwise); mse against the teacher's scores with --teacher-run. "
                                       "Default: bce, or mse with --teacher-run."),
    optimizer: str = typer.Option("adamw", "--optimizer", help="adamw (betas 0.9/0.999, eps 1e-8) or lion "
                                                                "(betas 0.9/0.99)."),
    lr: float = typer.Option(2e-5, "--lr", help="Peak learning rate (the thesis: 2e-6 with cosine for ModernBERT)."),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    warmup_steps: int = typer.Option(1000, "--warmup-steps", min=0),
    scheduler: str = typer.Option("linear", "--scheduler", help="linear, cosine or constant (after warmup)."),
    epochs: int = typer.Option(3, "--epochs", min=1),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Examples per step (listwise: lists)."),
    max_length: int = typer.Option(512, "--max-length", min=8, help="Token limit of a query-passage pair."),
    grad_clip: float = typer.Option(1.0, "--grad-clip", help="Gradient norm clipping; 0 turns it off."),
    seed: int = options.SEED,
    eval_topics: Optional[str] = typer.Option(None, "--eval-topics", help="Evaluate after every epoch on these..."),
    eval_qrels: Optional[str] = typer.Option(None, "--eval-qrels", help="...judgements..."),
    eval_run: Optional[str] = typer.Option(None, "--eval-run", help="...reranking this run's top --eval-depth."),
    eval_corpus: Optional[str] = typer.Option(None, "--eval-corpus", help="Passages of the eval run "
                                                                          "(default: --corpus)."),
    eval_depth: int = typer.Option(100, "--eval-depth", min=1),
    measures: Optional[List[str]] = typer.Option(None, "-m", "--measure", help="Eval measures (first = primary); "
                                                 "default nDCG@10 AP(rel=2) R(rel=2)@10 Rprec(rel=2) "
                                                 "P(rel=2)@10 RR(rel=2)@10."),
    keep_best: bool = typer.Option(False, "--keep-best", help="Save the best epoch on the primary measure "
                                                               "instead of the last."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted training from its last "
                                                         "checkpoint."),
    output: str = typer.Option(..., "-o", "--output", help="Model directory (a CrossEncoder directory)."),
    quiet: bool = options.QUIET,
) -> None:
    """Fine-tune a passage cross-encoder with AdamW or Lion, evaluating every epoch.

    Runs on sentence-transformers' CrossEncoderTrainer; the output directory works with
    `llmrank rerank --model DIR`."""
    from ..datasets import passages as examples_from
    from ..errors import LlmrankError
    from ..formats import read_qrels, read_run, read_topics
    from ..manifest import fingerprint, write_manifest
    from ..progress import Progress
    from ..training import cross_encoder

    loss = loss or ("mse" if teacher_run else "bce")
    if (loss == "mse") != bool(teacher_run):
        raise LlmrankError("--loss mse learns a teacher's scores: it goes with --teacher-run, and only with it")
    settings = cross_encoder.Settings(base, optimizer, lr, weight_decay, warmup_steps, scheduler, epochs, batch_size,
                                      max_length, grad_clip, loss, seed, keep_best)
    settings.check()
    topic_list = read_topics(topics) if topics else None
    if teacher_run:
        if topic_list is None or not corpus:
            raise LlmrankError("--teacher-run needs --topics and --corpus")
        if qrels or candidates or triples:
            raise LlmrankError("--teacher-run replaces --qrels, --candidates and --triples: give one source")
        train_examples = examples_from.from_teacher(topic_list, read_run(teacher_run), corpus, teacher_depth)
    elif triples:
        train_examples = examples_from.from_triples(triples, topic_list, corpus)
    elif topic_list is None or not (qrels and candidates and corpus):
        raise LlmrankError("give --topics, --qrels, --candidates and --corpus (or --triples)")
    else:
        train_examples = examples_from.from_judgements(topic_list, read_qrels(qrels), read_run(candidates), corpus,
                                                       negatives, per_positive, rel_level, negatives_depth, seed)
    evaluation = None
    if any((eval_topics, eval_qrels, eval_run)):
        if not all((eval_topics, eval_qrels, eval_run)) or not (eval_corpus or corpus):
            raise LlmrankError("evaluation needs --eval-topics, --eval-qrels, --eval-run and a corpus")
        evaluation = cross_encoder.RerankEvaluation.from_files(
            eval_topics, eval_qrels, eval_run, eval_corpus or corpus, measures or cross_encoder.EVAL_MEASURES,
            eval_depth, rel_level)
    stats = train_examples.stats
    note(f"distilling {teacher_run} on {stats['pairs']} pairs ({stats['queries']} queries)" if teacher_run else
         f"training on {stats['groups']} positives with their negatives ({stats['pairs']} pairs, "
         f"{stats['queries']} queries)")
    progress = Progress(f"train cross-encoder ({optimizer})", state.quiet, unit="steps")
    try:
        summary = cross_encoder.train(settings, train_examples, output, evaluation, resume, progress, note)
    finally:
        progress.close()
    inputs = {"topics": topics, "qrels": qrels, "candidates": candidates, "corpus": corpus, "triples": triples,
              "teacher_run": teacher_run,
              "eval_topics": eval_topics, "eval_qrels": eval_qrels, "eval_run": eval_run, "eval_corpus": eval_corpus}
    write_manifest(f"{output}/llmrank.json", "cross-encoder", {
        **vars(settings), "negatives": negatives, "negatives_per_positive": per_positive,
        "negatives_depth": negatives_depth, "rel_level": rel_level, "eval_depth": eval_depth,
        **({"teacher_depth": teacher_depth} if teacher_run else {}),
        "inputs": inputs, "data_fingerprint": fingerprint(*(p for p in inputs.values() if p)),
        "examples": train_examples.stats, **summary})
    if summary["best_epoch"] is not None:
        best = next(e for e in summary["epochs"] if e["epoch"] == summary["best_epoch"])
        note(f"best epoch {summary['best_epoch']}: {summary['primary_measure'][5:]} "
             f"{best[summary['primary_measure']]:.4f}; per-epoch log in {output}/epochs.csv, curves in "
             f"{output}/curves.png")
    note(f"model written to {output} ({summary['saved']})")


@app.command("cv")
def cv_command(
    arch: str = typer.Argument(..., help=_ARCH_HELP),
    data: str = options.DATA,
    folds: Optional[int] = typer.Option(None, "--folds", min=2, help="Folds (default: the data directory's)."),
    epochs: Optional[int] = options.EPOCHS,
    lr: Optional[float] = options.LR,
    batch_size: Optional[int] = options.BATCH_SIZE,
    optimizer: Optional[str] = options.OPTIMIZER,
    train_layers: Optional[int] = options.TRAIN_LAYERS,
    weak_labels: float = options.WEAK_LABELS,
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

    d = load_items(data)
    k = folds or d.meta["folds"]
    overrides = _overrides(arch, epochs, lr, batch_size, optimizer, train_layers)
    progress = Progress(f"cv {arch}", state.quiet, unit="epochs")
    progress.start(k * _epochs(arch, overrides))
    try:
        result = item_ranking.cross_validate(arch, d, k, seed, overrides, output, progress, weak_labels)
    finally:
        progress.close()
    table = Table(title=f"{result['architecture']}: {k}-fold CV, {result['queries']} queries")
    for col in ("measure", "mean", "std", "95% CI"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for name, m in result["measures"].items():
        table.add_row(name, f"{m['mean']:.4f}", f"{m['std']:.4f}", f"{m['ci95'][0]:.4f}–{m['ci95'][1]:.4f}")
    Console().print(table)
