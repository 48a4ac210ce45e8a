"""Train, cross-validate and apply item rankers (LLMs per query) on a prepared data directory."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import architectures
from .datasets import ItemData, assign_folds, encode_texts
from .errors import LlmrankError
from .formats import Run, Topic, read_qrels
from .formats.io import atomic_output
from .manifest import versions

CV_MEASURES = ("nDCG@10", "nDCG@5", "RR")


def train(arch: str, data: ItemData, train_idx: np.ndarray, seed: int, overrides: dict, progress=None):
    model = architectures.create(arch, **overrides)
    return model.fit(data, train_idx, seed, progress)


def save(model, out: str, data: ItemData, seed: int, fold: int | None, weak_labels: float = 0.0) -> Path:
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"architecture": model.name, "config": model.config(), "seed": seed, "fold": fold,
                "weak_labels": weak_labels,
                "items": model.items, "input_dim": int(data.embeddings.shape[1]), "encoder": data.meta["encoder"],
                "gains": data.meta["gains"], "data": str(data.path), "data_fingerprint": data.meta["fingerprint"],
                "versions": versions()}
    model.save(directory, manifest)
    return directory


def _run(qids: list[str], items: list[str], scores: np.ndarray, tag: str) -> Run:
    return Run.from_columns(np.repeat(qids, len(items)), np.tile(items, len(qids)), scores.ravel(), tag=tag)


def cross_validate(arch: str, data: ItemData, folds: int, seed: int, overrides: dict, out: str,
                   progress=None, weak_labels: float = 0.0) -> dict:
    """Train one model per fold; write the out-of-fold run over every query and the metrics
    (always against the original qrels, also when training adds weak labels)."""
    from scipy import stats

    from .evaluation import evaluate, parse_measures

    fold_of = data.folds if folds == data.meta["folds"] else assign_folds(len(data.qids), folds, seed)
    trained_on = data.with_weak_labels(weak_labels) if weak_labels else data
    scores = np.zeros(data.gains.shape)
    for k in range(folds):
        held = np.flatnonzero(fold_of == k)
        model = train(arch, trained_on, np.flatnonzero(fold_of != k), seed + k, overrides, progress)
        scores[held] = model.score(data.embeddings[held], [data.texts[i] for i in held])
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = architectures.ALIASES.get(arch, arch)
    run = _run(data.qids, data.items, scores, tag=name)
    from .formats import write_run

    write_run(run, out_dir / f"{name}.run")
    measures = parse_measures(list(CV_MEASURES))
    gains = tuple(sorted(data.gain_map.items()))
    ev = evaluate(read_qrels(data.path / "qrels.txt"), run, measures, gains=gains)
    fold_by_qid = dict(zip(data.qids, fold_of))
    q_fold = np.array([fold_by_qid[q] for q in ev.qids])
    result = {"architecture": name, "folds": folds, "seed": seed, "weak_labels": weak_labels, "queries": len(ev.qids),
              "gains": data.meta["gains"], "config": architectures.create(arch, **overrides).config(), "measures": {}}
    for i, m in enumerate(measures):
        per_fold = [float(ev.values[i][q_fold == k].mean()) for k in range(folds)]
        std = float(np.std(per_fold, ddof=1)) if folds > 1 else 0.0
        half = float(stats.t.ppf(0.975, folds - 1) * std / np.sqrt(folds)) if folds > 1 else 0.0
        mean = float(ev.values[i].mean())
        result["measures"][m.label] = {"mean": mean, "std": std, "ci95": [mean - half, mean + half],
                                       "per_fold": per_fold}
    with atomic_output(out_dir / f"{name}.cv.json") as f:
        json.dump(result, f, indent=2)
    return result


def rank_topics(model_dir: str, topics: list[Topic], tag: str | None = None) -> Run:
    meta = json.loads((Path(model_dir) / "model.json").read_text())
    model = architectures.load(model_dir)
    embeddings = encode_texts([t.text for t in topics], meta["encoder"])
    if embeddings.shape[1] != meta["input_dim"]:
        raise LlmrankError(f"{model_dir}: encoder gives {embeddings.shape[1]}-d vectors, model expects "
                           f"{meta['input_dim']}")
    return _run([t.qid for t in topics], model.items, model.score(embeddings, [t.text for t in topics]),
                tag or meta["architecture"])
