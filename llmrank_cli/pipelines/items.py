"""Train and cross-validate item rankers (LLMs per query) on a prepared data directory.

Any ranker that trains on items works here; a CV trains one model per fold and scores each
held-out fold with its model, so the out-of-fold run covers every query exactly once.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import rankers
from ..datasets import ItemData, assign_folds
from ..errors import LlmrankError
from ..formats import Run, read_qrels, write_run
from ..formats.io import atomic_output
from ..kit.devices import launched

CV_MEASURES = ("nDCG@10", "nDCG@5", "RR")


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


def _run(qids: list[str], items: list[str], scores: np.ndarray, tag: str) -> Run:
    return Run.from_columns(np.repeat(qids, len(items)), np.tile(items, len(qids)), scores.ravel(), tag=tag)


def cross_validate(name: str, data: ItemData, folds: int, seed: int, settings: dict, out: str,
                   runtime: rankers.Runtime = rankers.Runtime(), progress=None, weak_labels: float = 0.0):
    """Train one model per fold; write the out-of-fold run over every query and the metrics
    (always against the original qrels, also when training adds weak labels). Returns the
    result dict (also written as NAME.cv.json) and the evaluation of the OOF run; (None, None)
    in launched processes other than rank 0."""
    from scipy import stats

    from ..evaluation import evaluate, parse_measures

    fold_of = data.folds if folds == data.meta["folds"] else assign_folds(len(data.qids), folds, seed)
    trained_on = data.with_weak_labels(weak_labels) if weak_labels else data
    scores = np.zeros(data.gains.shape)
    for k in range(folds):
        held = np.flatnonzero(fold_of == k)
        model = train(name, trained_on, np.flatnonzero(fold_of != k), seed + k, settings, runtime, progress)
        scores[held] = model.score_pool(data.embeddings[held], [data.texts[i] for i in held])
    if launched()[0] != 0:  # every launched process trained the same models; rank 0 reports
        return None, None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    canonical = rankers.canonical(name)
    run = _run(data.qids, data.items, scores, tag=canonical)
    write_run(run, out_dir / f"{canonical}.run")
    measures = parse_measures(list(CV_MEASURES))
    ev = evaluate(read_qrels(data.path / "qrels.txt"), run, measures, gains=tuple(sorted(data.gain_map.items())))
    ev.run_name = f"{canonical} (out of fold)"
    fold_by_qid = dict(zip(data.qids, fold_of))
    q_fold = np.array([fold_by_qid[q] for q in ev.qids])
    from dataclasses import asdict

    result = {"ranker": canonical, "folds": folds, "seed": seed, "weak_labels": weak_labels, "queries": len(ev.qids),
              "gains": data.meta["gains"], "config": asdict(rankers.settings_for(name, **settings)), "measures": {}}
    for i, m in enumerate(measures):
        per_fold = [float(ev.values[i][q_fold == k].mean()) for k in range(folds)]
        std = float(np.std(per_fold, ddof=1)) if folds > 1 else 0.0
        half = float(stats.t.ppf(0.975, folds - 1) * std / np.sqrt(folds)) if folds > 1 else 0.0
        mean = float(ev.values[i].mean())
        result["measures"][m.label] = {"mean": mean, "std": std, "ci95": [mean - half, mean + half],
                                       "per_fold": per_fold}
    with atomic_output(out_dir / f"{canonical}.cv.json") as f:
        json.dump(result, f, indent=2)
    return result, ev
