"""Item rankers' work (LLMs, or a fixed pool of passages, per query): train on a prepared data
directory (or one prepared from topics and qrels), cross-validate, and rank every item of the
pool for new topics.

A CV trains one model per fold and scores each held-out fold with its model, so the out-of-fold
run covers every query exactly once.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import rankers
from ..datasets import ItemData, assign_folds
from ..errors import LlmrankError
from ..formats import Run, read_qrels, write_run
from ..formats.io import atomic_output
from ..jobs.scoring import RankJob
from ..jobs.training import PREPARED_FOLDS, ItemCvJob, ItemTrainJob
from ..kit.devices import launched
from ..training.loop import resumable
from . import trainable

CV_MEASURES = ("nDCG@10", "nDCG@5", "RR")


def fold_spread(ev, fold_by_qid: dict, folds: int) -> dict:
    """Per measure: the mean over queries (what `llmrank eval` gives on the OOF run), the per-fold
    means, their std and a 95% t-interval."""
    from scipy import stats

    q_fold = np.array([fold_by_qid[q] for q in ev.qids])
    out = {}
    for i, m in enumerate(ev.measures):
        per_fold = [float(ev.values[i][q_fold == k].mean()) for k in range(folds)]
        std = float(np.std(per_fold, ddof=1)) if folds > 1 else 0.0
        half = float(stats.t.ppf(0.975, folds - 1) * std / np.sqrt(folds)) if folds > 1 else 0.0
        mean = float(ev.values[i].mean())
        out[m.label] = {"mean": mean, "std": std, "ci95": [mean - half, mean + half], "per_fold": per_fold}
    return out


def item_ranker(name: str, runtime: rankers.Runtime, settings: dict):
    """A fresh ranker of ``name``, which must train on an item data directory."""
    trainable(name, ItemData)
    return rankers.create(name, runtime, **settings)


def fit(name: str, data: ItemData, train_idx: np.ndarray, seed: int, settings: dict,
        runtime: rankers.Runtime = rankers.Runtime(), progress=None):
    """A ranker of ``name`` fitted on the queries ``train_idx`` (one fold's training)."""
    return item_ranker(name, runtime, settings).fit(data, train_idx, seed, progress)


def save(ranker, out: str, data: ItemData, seed: int, fold: int | None, weak_labels: float = 0.0) -> Path | None:
    """The model directory; None in launched processes other than rank 0 (they trained alike)."""
    rank, world = launched()
    if rank != 0:
        return None
    return ranker.save(out, {"seed": seed, "fold": fold, "weak_labels": weak_labels, "gains": data.meta["gains"],
                             "data": str(data.path), "data_fingerprint": data.meta["fingerprint"],
                             "processes": world})


def held_out_measures(ranker, data: ItemData, held: np.ndarray) -> dict:
    """The CV measures of ``ranker`` on the queries ``held`` (a training's per-epoch evaluation),
    as ``eval_MEASURE`` like the Hugging Face Trainer's log."""
    import torch

    from ..evaluation import evaluate, parse_measures

    with torch.no_grad():
        scores = ranker.held_out_scores(data, held)
    run = _run([data.qids[i] for i in held], data.items, scores, tag=ranker.name)
    ev = evaluate(read_qrels(data.path / "qrels.txt"), run, parse_measures(list(CV_MEASURES)),
                  gains=tuple(sorted(data.gain_map.items())))
    return {f"eval_{m.label}": float(v) for m, v in zip(ev.measures, ev.aggregate())}


def _run(qids: list[str], items: list[str], scores: np.ndarray, tag: str) -> Run:
    """Every query's scored items; -inf marks an item outside a query's pool (left out)."""
    keep = np.isfinite(scores.ravel())
    return Run.from_columns(np.repeat(qids, len(items))[keep], np.tile(items, len(qids))[keep], scores.ravel()[keep],
                            tag=tag)


class _FinishedFolds:
    """``OUT/NAME.folds/``: each finished fold's held-out scores, written atomically, so that
    ``--resume`` continues an interrupted CV at its first unfinished fold (folds are seeded
    apart, so the result equals an uninterrupted CV). Removed once the CV's outputs exist."""

    def __init__(self, directory: Path, key: dict, resume: bool, writer: bool):
        self.dir, self.writer = directory, writer
        resumable(directory, key, resume, "folds of an interrupted cv")

    def get(self, k: int) -> dict | None:
        path = self.dir / f"fold-{k}.npz"
        return dict(np.load(path)) if path.exists() else None

    def put(self, k: int, arrays: dict) -> None:
        if self.writer:
            with atomic_output(self.dir / f"fold-{k}.npz", "wb") as f:
                np.savez(f, **arrays)

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def cross_validate(name: str, job: ItemCvJob, settings: dict, quiet: bool = False):
    """``cv NAME`` of an item ranker on the data directory ``job.data``, with a progress bar over
    every fold's epochs."""
    from ..datasets import load_items
    from ..progress import Progress

    data = load_items(job.data)
    folds = job.folds or data.meta["folds"]
    runtime = rankers.Runtime(job.device, job.dtype)
    progress = Progress(f"cv {name}", quiet, unit="epochs")
    progress.start(folds * item_ranker(name, runtime, settings).epochs)
    try:
        return cross_validate_data(name, data, folds, job.seed, settings, job.output, runtime, progress,
                                   job.weak_labels, job.resume)
    finally:
        progress.close()


def cross_validate_data(name: str, data: ItemData, folds: int, seed: int, settings: dict, out: str,
                        runtime: rankers.Runtime = rankers.Runtime(), progress=None, weak_labels: float = 0.0,
                        resume: bool = False):
    """Train one model per fold; write the out-of-fold run over every query and the metrics
    (always against the original qrels, also when training adds weak labels). Returns the
    result dict (also written as NAME.cv.json) and the evaluation of the OOF run; (None, None)
    in launched processes other than rank 0."""
    from dataclasses import asdict

    from ..evaluation import evaluate, parse_measures

    canonical = rankers.canonical(name)
    config = asdict(rankers.settings_for(name, **settings))
    fold_of = data.folds if folds == data.meta["folds"] else assign_folds(len(data.qids), folds, seed)
    trained_on = data.with_weak_labels(weak_labels) if weak_labels else data
    main = launched()[0] == 0  # every launched process trains the same models; rank 0 writes and reports
    finished = _FinishedFolds(Path(out) / f"{canonical}.folds", {
        "ranker": canonical, "settings": config, "folds": folds, "seed": seed, "weak_labels": weak_labels,
        "data_fingerprint": data.meta["fingerprint"]}, resume, main)
    scores, extras, seconds = np.zeros(data.gains.shape), {}, 0.0
    for k in range(folds):
        held = np.flatnonzero(fold_of == k)
        done = finished.get(k)
        if done is None:
            model = fit(name, trained_on, np.flatnonzero(fold_of != k), seed + k, settings, runtime, progress)
            began = time.perf_counter()
            done = {"scores": model.held_out_scores(data, held), "seconds": np.array(time.perf_counter() - began),
                    **model.held_out_report(data, held)}
            finished.put(k, done)
        elif progress:
            progress.advance(rankers.create(name, runtime, **settings).epochs)
        scores[held] = done.pop("scores")
        seconds += float(done.pop("seconds"))
        for key, values in done.items():
            extras.setdefault(key, np.full((len(data.qids), *values.shape[1:]), np.nan))[held] = values
    if not main:
        return None, None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _run(data.qids, data.items, scores, tag=canonical)
    write_run(run, out_dir / f"{canonical}.run")
    measures = parse_measures(list(CV_MEASURES))
    ev = evaluate(read_qrels(data.path / "qrels.txt"), run, measures, gains=tuple(sorted(data.gain_map.items())))
    ev.run_name = f"{canonical} (out of fold)"
    spread = fold_spread(ev, dict(zip(data.qids, fold_of)), folds)
    if any(float(label) != gain for label, gain in data.gain_map.items()):  # the labels' own nDCG too, named
        raw = evaluate(read_qrels(data.path / "qrels.txt"), run, parse_measures(["nDCG@10"]))
        spread.update({f"{m} (raw labels)": v for m, v in fold_spread(raw, dict(zip(data.qids, fold_of)),
                                                                       folds).items()})
    report, per_query = {"ms_per_query": 1000 * seconds / len(data.qids)}, {}
    for key, values in extras.items():
        if values.ndim == 2:  # a score matrix: another out-of-fold run beside the ranker's
            write_run(_run(data.qids, data.items, values, tag=f"{canonical}.{key}"), out_dir / f"{canonical}.{key}.run")
        else:
            report[key], per_query[key] = float(np.nanmean(values)), values
    result = {"ranker": canonical, "folds": folds, "seed": seed, "weak_labels": weak_labels, "queries": len(ev.qids),
              "gains": data.meta["gains"], "gains_source": data.meta.get("gains_source", "not recorded"),
              "config": config, "measures": spread,
              "report": rankers.get(name).cv_report(report, spread, rankers.settings_for(name, **settings), per_query)}
    if data.categories is not None:
        from ..evaluation.breakdown import by_category

        result["by_category"] = {c: {"queries": len(e.qids), **dict(zip((m.label for m in e.measures),
                                                                        map(float, e.aggregate())))}
                                 for c, e in by_category(ev, dict(zip(data.qids, data.categories)),
                                                         str(data.path / "categories.tsv")).items()}
    with atomic_output(out_dir / f"{canonical}.cv.json") as f:
        json.dump(result, f, indent=2)
    finished.remove()
    return result, ev


def train(name: str, job: ItemTrainJob, settings: dict, quiet: bool = False) -> dict | None:
    """``train NAME`` of an item ranker (``job``: a data directory or the files to prepare one,
    --fold K or --all, --resume; checked). Checkpoints every epoch; with --fold, evaluates the
    held-out fold after each. Returns where the model went and its last held-out measures (None
    in launched processes other than rank 0)."""
    import shutil
    from dataclasses import asdict

    from ..datasets import load_items
    from ..progress import Progress
    from ..training.curves import plot_curves, write_log
    from ..training.loop import Watch

    trainable(name, ItemData)
    if job.teacher_run:
        if rankers.get(name).candidates != "passages":
            raise LlmrankError(f"--teacher-run distils a run's passage scores; {name} ranks items, not passages")
        if settings.get("labels") == "binary":
            raise LlmrankError("--teacher-run learns the run's scores: graded labels, not --labels binary")
        settings = {**settings, "labels": "graded"}
    out = Path(job.output)
    d = load_items(job.data or prepared(name, job, out / "data"))
    train_idx = np.arange(len(d.qids)) if job.all_ else np.flatnonzero(d.folds != job.fold)
    trained_on = d.with_weak_labels(job.weak_labels) if job.weak_labels else d
    ranker = item_ranker(name, rankers.Runtime(job.device, job.dtype), settings)
    held = None if job.all_ else np.flatnonzero(d.folds == job.fold)
    ranker.watch = Watch(out / "checkpoints", (lambda: held_out_measures(ranker, d, held)) if held is not None
                         else None)
    resumable(ranker.watch.checkpoints, {"ranker": name, "settings": asdict(ranker.settings), "seed": job.seed,
                                         "fold": job.fold, "weak_labels": job.weak_labels,
                                         "data_fingerprint": d.meta["fingerprint"]},
              job.resume, "checkpoints of an interrupted training")
    progress = Progress(f"train {name}", quiet, unit="epochs")
    progress.start(ranker.epochs)
    try:
        ranker.fit(trained_on, train_idx, job.seed, progress)
    except BaseException:
        checkpoints = ranker.watch.checkpoints
        if [p.name for p in checkpoints.iterdir()] == ["settings.json"]:  # failed before its first epoch: no claim
            shutil.rmtree(checkpoints)
            if not any(out.iterdir()):  # nor an empty model directory
                out.rmdir()
        raise
    finally:
        progress.close()
    saved = save(ranker, out, d, job.seed, job.fold, job.weak_labels)
    if not saved:
        return None
    shutil.rmtree(ranker.watch.checkpoints, ignore_errors=True)
    if ranker.watch.epochs:
        write_log(out, ranker.watch.epochs, ranker.watch.steps)
        plot_curves(ranker.watch.steps, ranker.watch.epochs, out / "curves.png")
    return {"model": saved, "last_epoch": ranker.watch.epochs[-1] if ranker.watch.epochs else {}}


def prepared(name: str, job: ItemTrainJob, directory: Path) -> str:
    """A data directory made from --topics, --qrels (and --corpus) as `prepare items` makes it,
    with the query features the ranker reads; one left by an earlier run of the same inputs
    (e.g. before a --resume) is reused."""
    from ..datasets import DEFAULT_ENCODER, prepare_items
    from ..formats import Qrels, read_topics
    from ..progress import note

    teacher = job.teacher_run
    sources = [p for p in (job.topics, job.qrels, job.corpus, job.run, teacher) if p]
    meta = directory / "data.json"
    if meta.exists() and json.loads(meta.read_text())["sources"] == sources:
        return str(directory)
    note(f"preparing {directory} from {', '.join(sources)}")
    qrels = Qrels.from_columns([], [], []) if teacher else read_qrels(job.qrels)
    prepare_items(read_topics(job.topics), qrels, str(directory), None, PREPARED_FOLDS, job.seed, DEFAULT_ENCODER,
                  sources, with_layer_states=rankers.get(name).query_features == "layer_states", corpus=job.corpus,
                  candidates=teacher or job.run, depth=job.depth, teacher=bool(teacher))
    return str(directory)


def rank(job: RankJob, topics, quiet: bool = False) -> dict | None:
    """Every item (LLM, or passage of ``job.corpus`` for a model of content items) for every topic,
    scored by the trained item ranker in ``job.model`` through the scoring pipeline (chunks,
    --resume, processes under torchrun), the top ``job.k`` kept; a submission (``job.fmt`` mllm) is
    converted from the run. Returns counts for the report (None off rank 0)."""
    import tempfile

    from ..formats import read_run, write_submission
    from ..manifest import write_manifest
    from ..progress import Progress
    from .score import over_pool, score_queries

    if rankers.base.read_manifest(job.model) is None:
        raise LlmrankError(f"--model {job.model!r}: neither bm25 nor a model directory from `llmrank train`")
    ranker = rankers.load(job.model, rankers.Runtime(job.device, job.dtype))
    if ranker.candidates != "items":
        raise LlmrankError(f"--model {job.model}: a {ranker.name} scores passages: use `llmrank rerank`")
    if ranker.content_items and not job.corpus:
        raise LlmrankError(f"--model {job.model} ranks passages: give them with --corpus")
    if job.corpus:
        from ..formats.corpus import read_passages

        ranker.use_corpus(read_passages(job.corpus))
    tag = job.tag or ranker.name
    progress = Progress(f"rank {ranker.name}", quiet)
    cut = job.k < len(ranker.items)
    with tempfile.TemporaryDirectory() as tmp:
        # the whole pool's run before the cut (or the submission) sits beside the output, so that
        # --resume finds its partials
        run_path = job.output if job.fmt == "trec" and not cut else str(Path(tmp) / "run") if job.output == "-" \
            else job.output + ".pool"
        try:
            stats = score_queries(over_pool(topics, ranker.items), ranker, run_path, resume=job.resume, tag=tag,
                                  progress=progress, chunk_pairs=job.chunk_pairs)
        finally:
            progress.close()
        if not stats.main:
            return None
        if job.fmt == "mllm":
            write_submission(read_run(run_path).truncated(job.k), job.output, job.team_id or tag)
        elif cut:
            write_run(read_run(run_path).truncated(job.k), job.output, tag=tag)
        if run_path != job.output:
            Path(run_path).unlink(missing_ok=True)
    if job.output != "-":
        write_manifest(job.output + ".manifest.json", "run", {
            "model": job.model, "ranker": ranker.name, "topics": len(topics), "items": len(ranker.items),
            "format": job.fmt, "k": job.k, "corpus": job.corpus})
        if job.fmt == "trec" and not ranker.content_items:
            with atomic_output(job.output + ".run-form.json") as f:
                json.dump(run_form(job.model, tag, len(topics)), f, indent=2)
    return {"topics": len(topics), "items": len(ranker.items)}


def run_form(model: str, tag: str, topics: int) -> dict:
    """What NIST's run form for TREC Million LLMs asks of a run, answered from the model's
    manifest and its data directory: the submitter confirms it (and the run's priority) by hand."""
    from .. import __version__

    manifest = rankers.base.read_manifest(model)
    data = Path(manifest.get("data", ""), "data.json")
    meta = json.loads(data.read_text()) if data.is_file() else {}
    fold = manifest.get("fold")
    return {
        "track": "TREC Million LLMs", "run_tag": tag, "format": "trec (6 columns)", "topics": topics,
        "run_type": "automatic",
        "dev_set_used": True,
        "trained_on_dev_qrels": "every dev query" if fold is None else f"the dev queries outside fold {fold}",
        "response_metadata_used": meta.get("response_metadata", "unknown: the data directory does not say"),
        "discovery_data_used": (data.parent / "discovery.npz").is_file(),
        "external_resources": [f"{name} (pretrained {what})" for name, what in (
            (meta.get("encoder"), "query encoder"), (manifest.get("settings", {}).get("lm"), "language model"),
            (manifest.get("settings", {}).get("encoder"), "encoder fine-tuned")) if isinstance(name, str)],
        "system": f"llmrank {__version__}, ranker {manifest.get('ranker')}", "model": model,
        "data": meta.get("sources", []),
    }
