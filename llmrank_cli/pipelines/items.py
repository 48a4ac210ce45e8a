"""Train and cross-validate item rankers (LLMs per query) on a prepared data directory.

Any ranker that trains on items works here; a CV trains one model per fold and scores each
held-out fold with its model, so the out-of-fold run covers every query exactly once.
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
from ..kit.devices import launched
from ..training.loop import resumable

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
    if rankers.get(name).trains_on != "items":
        raise LlmrankError(f"{name} does not train on item data; item rankers: "
                           f"{', '.join(rankers.names(trains_on='items'))}")
    return rankers.create(name, runtime, **settings)


def train(name: str, data: ItemData, train_idx: np.ndarray, seed: int, settings: dict,
          runtime: rankers.Runtime = rankers.Runtime(), progress=None):
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


def cross_validate(name: str, data: ItemData, folds: int, seed: int, settings: dict, out: str,
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
            model = train(name, trained_on, np.flatnonzero(fold_of != k), seed + k, settings, runtime, progress)
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
    report, per_query = {"ms_per_query": 1000 * seconds / len(data.qids)}, {}
    for key, values in extras.items():
        if values.ndim == 2:  # a score matrix: another out-of-fold run beside the ranker's
            write_run(_run(data.qids, data.items, values, tag=f"{canonical}.{key}"), out_dir / f"{canonical}.{key}.run")
        else:
            report[key], per_query[key] = float(np.nanmean(values)), values
    result = {"ranker": canonical, "folds": folds, "seed": seed, "weak_labels": weak_labels, "queries": len(ev.qids),
              "gains": data.meta["gains"], "config": config, "measures": spread,
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
