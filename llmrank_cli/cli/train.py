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
from . import flags, options
from .app import app, note, state

train_app = typer.Typer(no_args_is_help=True, help="Train a ranker: an item ranker (NAME --data DIR) or a passage "
                                                     "reranker (cross-encoder --base MODEL ...).")
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
    candidates: Optional[str] = typer.Option(None, "--candidates", help="With --corpus: each query's items are this "
                                             "run's top --depth passages (language rankers)."),
    depth: int = typer.Option(100, "--depth", min=1, help="Candidates per query from --candidates."),
    teacher_run: Optional[str] = typer.Option(None, "--teacher-run", help="With --topics and --corpus, instead of "
                                              "--qrels/--candidates (language rankers): each query's pool is this "
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
    import shutil
    from dataclasses import asdict
    from pathlib import Path

    import numpy as np

    from ..datasets import load_items
    from ..errors import LlmrankError
    from ..pipelines import items
    from ..progress import Progress
    from ..training.curves import plot_curves, write_log
    from ..training.loop import Watch, resumable

    if (fixed["fold"] is None) == (not fixed["all_"]):
        raise LlmrankError("give exactly one of --fold K or --all")
    if fixed["data"] and any(fixed[k] for k in ("topics", "qrels", "corpus", "candidates", "teacher_run")):
        raise LlmrankError("give --data DIR or --topics/--qrels/--corpus/--candidates/--teacher-run, not both")
    if fixed["teacher_run"]:
        if rankers.get(name).candidates != "passages":
            raise LlmrankError(f"--teacher-run distils a run's passage scores; {name} ranks items, not passages")
        if given["labels"] == "binary":
            raise LlmrankError("--teacher-run learns the run's scores: graded labels, not --labels binary")
        given = {**given, "labels": "graded"}
    out = Path(fixed["output"])
    d = load_items(fixed["data"] or _prepared(name, fixed, out / "data"))
    train_idx = np.arange(len(d.qids)) if fixed["all_"] else np.flatnonzero(d.folds != fixed["fold"])
    weak = fixed["weak_labels"]
    trained_on = d.with_weak_labels(weak) if weak else d
    ranker = items.item_ranker(name, rankers.Runtime(fixed["device"], fixed["dtype"]),
                               flags.values(rankers.get(name).Settings, given))
    held = None if fixed["all_"] else np.flatnonzero(d.folds == fixed["fold"])
    ranker.watch = Watch(out / "checkpoints", (lambda: items.held_out_measures(ranker, d, held)) if held is not None
                         else None)
    resumable(ranker.watch.checkpoints, {"ranker": name, "settings": asdict(ranker.settings), "seed": fixed["seed"],
                                         "fold": fixed["fold"], "weak_labels": weak,
                                         "data_fingerprint": d.meta["fingerprint"]},
              fixed["resume"], "checkpoints of an interrupted training")
    progress = Progress(f"train {name}", state.quiet, unit="epochs")
    progress.start(ranker.epochs)
    try:
        ranker.fit(trained_on, train_idx, fixed["seed"], progress)
    except BaseException:
        checkpoints = ranker.watch.checkpoints
        if [p.name for p in checkpoints.iterdir()] == ["settings.json"]:  # failed before its first epoch: no claim
            shutil.rmtree(checkpoints)
        raise
    finally:
        progress.close()
    saved = items.save(ranker, out, d, fixed["seed"], fixed["fold"], weak)
    if saved:
        shutil.rmtree(ranker.watch.checkpoints, ignore_errors=True)
        if ranker.watch.epochs:
            write_log(out, ranker.watch.epochs, ranker.watch.steps)
            plot_curves(ranker.watch.steps, ranker.watch.epochs, out / "curves.png")
        last = ranker.watch.epochs[-1] if ranker.watch.epochs else {}
        note(f"model written to {saved}" + (f"; held-out fold {fixed['fold']}: nDCG@10 {last['eval_nDCG@10']:.4f}, "
                                            f"per-epoch log in {out}/epochs.csv, curves in {out}/curves.png"
                                            if "eval_nDCG@10" in last else ""))


def _prepared(name: str, fixed: dict, directory) -> str:
    """A data directory made from --topics, --qrels (and --corpus) as `prepare items` makes it,
    with the query features the ranker reads; one left by an earlier run of the same inputs
    (e.g. before a --resume) is reused."""
    import json

    from ..datasets import prepare_items
    from ..errors import LlmrankError
    from ..formats import Qrels, read_qrels, read_topics
    from .prepare import _parse_gain_map

    teacher = fixed["teacher_run"]
    if teacher and (fixed["qrels"] or fixed["candidates"] or not (fixed["topics"] and fixed["corpus"])):
        raise LlmrankError("--teacher-run takes --topics and --corpus and replaces --qrels and --candidates")
    if not (fixed["topics"] and (fixed["qrels"] or teacher)):
        raise LlmrankError("give --data DIR, or --topics and --qrels (and --corpus for passages as items)")
    sources = [fixed[k] for k in ("topics", "qrels", "corpus", "candidates", "teacher_run") if fixed[k]]
    meta = directory / "data.json"
    if meta.exists() and json.loads(meta.read_text())["sources"] == sources:
        return str(directory)
    note(f"preparing {directory} from {', '.join(sources)}")
    qrels = Qrels.from_columns([], [], []) if teacher else read_qrels(fixed["qrels"])
    prepare_items(read_topics(fixed["topics"]), qrels, str(directory), _parse_gain_map(None, None),
                  2, fixed["seed"], options.ENCODER.default, sources,
                  with_layer_states=rankers.get(name).query_features == "layer_states", corpus=fixed["corpus"],
                  candidates=teacher or fixed["candidates"], depth=fixed["depth"], teacher=bool(teacher))
    return str(directory)


def _cv_items(name: str, fixed: dict, given: dict) -> None:
    from ..datasets import load_items
    from ..evaluation.report import write_cv
    from ..pipelines import items
    from ..progress import Progress

    d = load_items(fixed["data"])
    k = fixed["folds"] or d.meta["folds"]
    settings = flags.values(rankers.get(name).Settings, given)
    runtime = rankers.Runtime(fixed["device"], fixed["dtype"])
    progress = Progress(f"cv {name}", state.quiet, unit="epochs")
    progress.start(k * items.item_ranker(name, runtime, settings).epochs)
    try:
        result, evaluation = items.cross_validate(name, d, k, fixed["seed"], settings, fixed["output"], runtime,
                                                  progress, fixed["weak_labels"], fixed["resume"])
    finally:
        progress.close()
    if result is not None:
        write_cv(result, evaluation, sys.stdout)


def _passage_train_flags(
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


def _passage_settings(name: str, given: dict, teacher_run):
    from ..errors import LlmrankError

    values = flags.values(rankers.get(name).Settings, given)
    values.setdefault("loss", "mse" if teacher_run else "bce")
    if (values["loss"] == "mse") != bool(teacher_run):
        raise LlmrankError("--loss mse learns a teacher's scores: it goes with --teacher-run, and only with it")
    return rankers.settings_for(name, **values)


def _passage_examples(a, topic_list, seed: int):
    """Training examples from the flags' one source: a teacher run, triples, or qrels + candidates."""
    from ..datasets import passages as examples_from
    from ..errors import LlmrankError
    from ..formats import read_qrels, read_run

    if a.teacher_run:
        if topic_list is None or not a.corpus:
            raise LlmrankError("--teacher-run needs --topics and --corpus")
        if a.qrels or a.candidates or getattr(a, "triples", None):
            raise LlmrankError("--teacher-run replaces --qrels, --candidates and --triples: give one source")
        return examples_from.from_teacher(topic_list, read_run(a.teacher_run), a.corpus, a.teacher_depth)
    if getattr(a, "triples", None):
        return examples_from.from_triples(a.triples, topic_list, a.corpus)
    if topic_list is None or not (a.qrels and a.candidates and a.corpus):
        raise LlmrankError("give --topics, --qrels, --candidates and --corpus (or --triples)")
    return examples_from.from_judgements(topic_list, read_qrels(a.qrels), read_run(a.candidates), a.corpus,
                                         a.negatives, a.per_positive, a.rel_level, a.negatives_depth, seed)


def _train_passages(name: str, fixed: dict, given: dict) -> None:
    """Fine-tune a passage reranker with AdamW or Lion on the Hugging Face Trainer, evaluating
    every epoch; the output directory works with `llmrank rerank --model DIR`."""
    from types import SimpleNamespace

    from ..errors import LlmrankError
    from ..formats import read_topics
    from ..manifest import fingerprint, write_manifest
    from ..progress import Progress
    from ..training import hf

    a = SimpleNamespace(**fixed)
    settings = _passage_settings(name, given, a.teacher_run)
    examples = _passage_examples(a, read_topics(a.topics) if a.topics else None, settings.seed)
    evaluation = None
    if any((a.eval_topics, a.eval_qrels, a.eval_run)):
        if not all((a.eval_topics, a.eval_qrels, a.eval_run)) or not (a.eval_corpus or a.corpus):
            raise LlmrankError("evaluation needs --eval-topics, --eval-qrels, --eval-run and a corpus")
        evaluation = hf.RerankEvaluation.from_files(a.eval_topics, a.eval_qrels, a.eval_run, a.eval_corpus or a.corpus,
                                                    a.measures or hf.EVAL_MEASURES, a.eval_depth, a.rel_level)
    stats = examples.stats
    note(f"distilling {a.teacher_run} on {stats['pairs']} pairs ({stats['queries']} queries)" if a.teacher_run else
         f"training on {stats['groups']} positives with their negatives ({stats['pairs']} pairs, "
         f"{stats['queries']} queries)")
    progress = Progress(f"train {name} ({settings.optimizer})", state.quiet, unit="steps")
    try:
        summary = hf.train(settings, examples, a.output, evaluation, a.resume, progress, note,
                           runtime=rankers.Runtime(a.device, a.dtype))
    finally:
        progress.close()
    if not summary.pop("main"):
        return
    inputs = {k: fixed[k] for k in ("topics", "qrels", "candidates", "corpus", "triples", "teacher_run", "eval_topics",
                                    "eval_qrels", "eval_run", "eval_corpus")}
    write_manifest(f"{a.output}/llmrank.json", name, {
        **vars(settings), "negatives": a.negatives, "negatives_per_positive": a.per_positive,
        "negatives_depth": a.negatives_depth, "rel_level": a.rel_level, "eval_depth": a.eval_depth,
        "device": a.device, "dtype": a.dtype, **({"teacher_depth": a.teacher_depth} if a.teacher_run else {}),
        "inputs": inputs, "data_fingerprint": fingerprint(*(p for p in inputs.values() if p)),
        "examples": stats, **summary})
    if summary["best_epoch"] is not None:
        best = next(e for e in summary["epochs"] if e["epoch"] == summary["best_epoch"])
        note(f"best epoch {summary['best_epoch']}: {summary['primary_measure'][5:]} "
             f"{best[summary['primary_measure']]:.4f}; per-epoch log in {a.output}/epochs.csv, curves in "
             f"{a.output}/curves.png")
    note(f"model written to {a.output} ({summary['saved']})")


def _passage_cv_flags(
    topics: str = typer.Option(..., "--topics", help="Topics, split into folds by query."),
    qrels: str = typer.Option(..., "--qrels", help="Qrels: training positives (>= --rel-level) and evaluation."),
    candidates: str = typer.Option(..., "--candidates", help="Run to rerank: hard negatives for training, its "
                                                             "held-out queries' top --depth for scoring."),
    corpus: str = typer.Option(..., "--corpus", help="Passage texts (JSONL/TSV/TREC/SMART, .gz ok)."),
    negatives: str = typer.Option("hard", "--negatives", help="hard (from --candidates) or random (from --corpus)."),
    per_positive: int = typer.Option(4, "--negatives-per-positive", min=1, help="Negatives sampled per positive."),
    negatives_depth: int = typer.Option(100, "--negatives-depth", min=1, help="Hard negatives come from this top."),
    rel_level: int = typer.Option(2, "--rel-level", help="Lowest relevant label (2 for TREC DL passages)."),
    teacher_run: Optional[str] = typer.Option(None, "--teacher-run", help="Distil this run's scores on the training "
                                              "folds' topics instead of learning from qrels."),
    teacher_depth: int = typer.Option(100, "--teacher-depth", min=1, help="Teacher pairs per topic."),
    folds: int = typer.Option(5, "--folds", min=2, help="Query folds (seeded by --seed)."),
    depth: int = typer.Option(100, "--depth", min=1, help="Rerank the held-out queries' top N."),
    measures: Optional[List[str]] = typer.Option(None, "-m", "--measure", help="Measures (default as train's)."),
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    output: str = typer.Option(..., "-o", "--output", help="Directory: fold-K/ models, NAME.run (out of fold), "
                                                           "NAME.cv.json."),
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `cv NAME` for passage rerankers (the settings' flags follow)."""


def _cv_passages(name: str, fixed: dict, given: dict) -> None:
    """K-fold CV by query of a passage reranker: per fold, train on the other folds' topics and
    rerank the held-out topics' candidates; the out-of-fold run covers every topic once."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from ..datasets import assign_folds
    from ..evaluation import evaluate, parse_measures
    from ..evaluation.report import write_cv
    from ..formats import read_qrels, read_run, read_topics, write_run
    from ..formats.io import atomic_output
    from ..pipelines.items import fold_spread
    from ..pipelines.score import from_run, merge_runs, score_queries
    from ..progress import Progress
    from ..training import hf
    from .rerank import _passage_source

    a = SimpleNamespace(**fixed)
    settings = _passage_settings(name, given, a.teacher_run)
    runtime = rankers.Runtime(a.device, a.dtype)
    topic_list, run = read_topics(a.topics), read_run(a.candidates)
    fold_of = assign_folds(len(topic_list), a.folds, settings.seed)
    out, held_runs = Path(a.output), []
    for k in range(a.folds):
        train_topics = [t for t, f in zip(topic_list, fold_of) if f != k]
        held = [t for t, f in zip(topic_list, fold_of) if f == k]
        model = out / f"fold-{k}"
        progress = Progress(f"cv {name}: fold {k + 1}/{a.folds}", state.quiet, unit="steps")
        try:
            hf.train(settings, _passage_examples(a, train_topics, settings.seed), str(model), progress=progress,
                     note=note, runtime=runtime)
        finally:
            progress.close()
        ranker = rankers.get(name).open(str(model), runtime, settings.max_length)
        score_queries(from_run(run.for_queries(t.qid for t in held), held, a.depth), ranker, str(model / "held-out.run"),
                      _passage_source(a.corpus), tag=name)
        held_runs.append(read_run(model / "held-out.run"))
    oof = merge_runs(held_runs, [t for t in topic_list if t.qid in set(run.table["qid"].to_pylist())], tag=name)
    write_run(oof, out / f"{name}.run")
    ev = evaluate(read_qrels(a.qrels), read_run(out / f"{name}.run"), parse_measures(a.measures or hf.EVAL_MEASURES))
    ev.run_name = f"{name} (out of fold)"
    result = {"ranker": name, "folds": a.folds, "seed": settings.seed, "queries": len(ev.qids),
              "config": vars(settings), "measures": fold_spread(ev, {t.qid: f for t, f in zip(topic_list, fold_of)},
                                                                 a.folds)}
    with atomic_output(out / f"{name}.cv.json") as f:
        json.dump(result, f, indent=2)
    write_cv(result, ev, sys.stdout)


def _heads_train_flags(
    heads: str = typer.Option(..., "--heads", help="Heads directory from `prepare heads` (training queries)."),
    eval_heads: Optional[str] = typer.Option(None, "--eval-heads", help="Another heads directory: write OUT/eval/ runs "
                                             "of this model, all heads (ICR), and the per-query oracle, from its "
                                             "cached scores."),
    seed: int = options.SEED,
    output: str = typer.Option(..., "-o", "--output", help="Model directory (for rerank --kind icr --heads)."),
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `train NAME` for head routers (the settings' flags follow)."""


def _train_heads(name: str, fixed: dict, given: dict) -> None:
    from pathlib import Path

    from ..datasets.heads import load_heads
    from ..progress import Progress

    data = load_heads(fixed["heads"])
    ranker = rankers.create(name, **flags.values(rankers.get(name).Settings, given))
    progress = Progress(f"train {name}", state.quiet, unit="epochs")
    progress.start(ranker.settings.epochs)
    try:
        ranker.fit(data, fixed["seed"], progress)
    finally:
        progress.close()
    out = ranker.save(fixed["output"], {"seed": fixed["seed"], "heads": fixed["heads"]})
    note(f"model written to {out}")
    if fixed["eval_heads"]:
        _evaluate_heads(ranker, load_heads(fixed["eval_heads"]), Path(fixed["output"]) / "eval")


def _evaluate_heads(ranker, data, out) -> None:
    """Runs of the held-out heads directory from its cached scores: the model, all heads (ICR)
    and each query's greedy head set (an in-sample bound), with their nDCG@10."""
    import numpy as np

    from ..datasets.heads import greedy_heads
    from ..evaluation import evaluate, parse_measures
    from ..formats import Run, read_qrels, write_run

    ranker.check_lm(data.meta["lm"], _shape(data.meta))
    oracle = np.zeros(data.scores.shape[::2])
    for q in range(len(data.qids)):
        oracle[q, greedy_heads(data, q, ranker.settings.max_heads)] = 1.0
    weights = {ranker.name + ("-static" if ranker.settings.static else ""): ranker.weights(data.states),
               "all-heads": np.ones(data.scores.shape[::2]), "oracle": oracle}
    out.mkdir(parents=True, exist_ok=True)
    qrels = read_qrels(data.path / "qrels.txt")
    for label, w in weights.items():
        qid, doc, score = [], [], []
        for q, (top, rest) in enumerate(zip(data.top, data.rest)):
            s = data.scores[q, :len(top)] @ w[q]
            low = float(s.min()) if len(s) else 0.0
            qid += [data.qids[q]] * (len(top) + len(rest))
            doc += top + rest
            score += s.tolist() + [low - 1.0 - i for i in range(len(rest))]
        run = Run.from_columns(qid, doc, score, tag=label)
        write_run(run, out / f"{label}.run")
        value = evaluate(qrels, run, parse_measures(["nDCG@10"])).aggregate()[0]
        note(f"{data.path}: {label} nDCG@10 {value:.4f} ({out / label}.run)")


def _shape(meta: dict):
    from types import SimpleNamespace

    return SimpleNamespace(num_hidden_layers=meta["layers"], num_attention_heads=meta["heads"],
                           hidden_size=meta["hidden"])


_FLAGS = {"items": ((_item_data_flags, _item_train_flags), _train_items),
          "passages": ((_passage_train_flags,), _train_passages),
          "heads": ((_heads_train_flags,), _train_heads)}
_CV_FLAGS = {"items": ((_item_data_flags, _item_cv_flags), _cv_items), "passages": ((_passage_cv_flags,), _cv_passages)}


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
        fixed, body = _FLAGS[cls.trains_on]
        for shown in [name, *rankers.aliases_of(name)]:
            hidden = shown != name
            train_app.command(shown, hidden=hidden)(flags.command(fixed, extra, partial(body, name),
                                                                  f"Train {name}. {_summary(cls)}"))
            if cls.trains_on not in _CV_FLAGS:
                continue
            cv_fixed, cv_body = _CV_FLAGS[cls.trains_on]
            cv_app.command(shown, hidden=hidden)(flags.command(cv_fixed, extra, partial(cv_body, name),
                                                               f"Cross-validate {name}. {_summary(cls)}"))


_register_commands()
