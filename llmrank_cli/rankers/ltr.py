"""``ltr``: a LightGBM LambdaRank over (query, LLM) features (``datasets/item_features.py``: the
prior, the per-category prior, kNN scores at several k, response features) and, with
``--stack``, the scores of other llmrank rankers. What the best TREC 2025 Million LLMs run did.

No training query's features see its own label: the training queries are split into
``inner_folds``; each inner fold's features (and stacked rankers' scores) come from the other
inner folds alone. Held-out queries get features from every training query, and the stacked
rankers trained on all of them (saved inside the model directory).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import register
from .base import ItemRanker, Settings, setting
from ..datasets import item_features
from ..errors import LlmrankError, MissingExtra
from ..evaluation.dcg import mean_ndcg


@dataclass
class LtrSettings(Settings):
    knn_k: list = setting([10, 50, 200], "Neighbourhood sizes of the kNN features.")
    temperature: float = setting(0.05, "Similarity temperature of the kNN weights.", min=1e-6)
    shrink: float = setting(2.0, "Prior pseudo-queries in each kNN neighbourhood.", min=0.0)
    category_shrink: float = setting(20.0, "Prior pseudo-queries in each category's mean.", min=0.0)
    ridge: float = setting(30.0, "L2 penalty of the linear router feature.", min=0.0)
    response_k: int = setting(50, "Nearest responding queries of the response features.", min=1)
    drop: str = setting("", f"Feature groups left out, comma-separated: {', '.join(item_features.GROUPS)}.")
    stack: str = setting("", "Rankers whose scores are features, comma-separated (e.g. tier3,lt-ttd); "
                             "trained on inner folds, never on the labels they score.")
    inner_folds: int = setting(5, "Inner folds of the training queries' features.", min=2)
    trees: int = setting(300, "Boosting rounds.", min=1)
    learning_rate: float = setting(0.05, "LightGBM learning rate.", min=0.0)
    leaves: int = setting(15, "Leaves per tree.", min=2)
    min_leaf: int = setting(50, "Minimum pairs per leaf.", min=1)
    early_stop: int = setting(50, "Rounds without gain on a held-out inner fold before boosting stops (there the "
                                  "ranker also falls back to the prior if it does not beat it); 0 = every round on "
                                  "every training query.", min=0)

    def dropped(self) -> set[str]:
        groups = {g.strip() for g in self.drop.split(",") if g.strip()}
        unknown = groups - set(item_features.GROUPS)
        if unknown:
            raise LlmrankError(f"--drop takes {', '.join(item_features.GROUPS)}, not {sorted(unknown)[0]!r}")
        return groups

    def stacked(self) -> list[str]:
        return [n.strip() for n in self.stack.split(",") if n.strip()]


def _lightgbm():
    try:
        import lightgbm
    except ImportError:
        raise MissingExtra("the ltr ranker", "lightgbm", "ltr") from None
    return lightgbm


@register("ltr", aliases=("lambdarank",))
class Ltr(ItemRanker):
    Settings = LtrSettings
    booster = None
    pool: item_features.Pool | None = None
    stacked: list = []
    columns: list[str] = []
    fallback = False  # the validation fold preferred the prior: score as the prior

    @property
    def epochs(self) -> int:
        return 1

    def fit_pool(self, data, train, seed, progress) -> None:
        from . import create
        from ..datasets import assign_folds

        _lightgbm()  # a missing extra is one line before any work
        s = self.settings
        drop, discovery = s.dropped(), data.discovery_features()
        levels = sorted({0.0, *data.gain_map.values()})
        labels = np.abs(data.gains[train][..., None] - np.array(levels, dtype=np.float32)).argmin(axis=-1)
        if not np.allclose(np.take(levels, labels), data.gains[train], atol=1e-6):
            raise LlmrankError("ltr learns graded labels; its training gains are not all of the gain map "
                               "(--weak-labels adds fractional credit: use it with knn or prior)")
        inner = assign_folds(len(train), s.inner_folds, seed)
        x = None
        for j in range(s.inner_folds):
            fit, held = train[inner != j], train[inner == j]
            pool = item_features.Pool.of(data, fit, discovery)
            block = self._features(pool, data.embeddings[held], [data.texts[i] for i in held],
                                   _picked(data.categories, held),
                                   [create(n, self.runtime).fit(data, fit, seed) for n in s.stacked()], data, held)
            x = np.zeros((len(train), *block.shape[1:]), dtype=np.float32) if x is None else x
            x[inner == j] = block
        self.pool = item_features.Pool.of(data, train, discovery)
        self.columns = item_features.names(self.pool, s.knn_k, drop) + [f"stack:{n}" for n in s.stacked()]
        self.stacked = [create(n, self.runtime).fit(data, train, seed) for n in s.stacked()]
        self.booster, self.fallback = self._boost(x, labels, data.gains[train], inner, levels, seed)
        super().fit_pool(data, train, seed, progress)

    def _boost(self, x: np.ndarray, labels: np.ndarray, gains: np.ndarray, inner: np.ndarray, levels: list[float],
               seed: int):
        """(booster, fallback). With ``early_stop``, inner fold 0 is held out: boosting stops once
        its nDCG@10 has not improved for that many rounds, and when the best model there does not
        beat the other folds' prior on it, the ranker falls back to the prior (fallback True):
        with a hundred training queries, trees learn noise. Without, every training query and round."""
        s, lightgbm = self.settings, _lightgbm()
        fit = inner != 0 if s.early_stop else np.ones(len(x), dtype=bool)
        params = self._params(levels, seed, int(fit.sum()) * x.shape[1])

        def dataset(rows, reference=None):
            return lightgbm.Dataset(x[rows].reshape(-1, x.shape[-1]), labels[rows].reshape(-1),
                                    group=[x.shape[1]] * int(rows.sum()), reference=reference,
                                    feature_name=[c.replace(":", "_").replace("@", "_at_") for c in self.columns],
                                    categorical_feature=[0] if "prior" not in s.dropped() else "auto")
        if not s.early_stop:
            return lightgbm.train(params, dataset(fit), num_boost_round=s.trees), False
        train_set, held = dataset(fit), ~fit
        booster = lightgbm.train({**params, "metric": "ndcg"}, train_set, num_boost_round=s.trees,
                                 valid_sets=[dataset(held, train_set)],
                                 callbacks=[lightgbm.early_stopping(s.early_stop, verbose=False)])
        model = mean_ndcg(self._predict(x[held], booster), gains[held])
        prior = mean_ndcg(np.broadcast_to(gains[fit].mean(axis=0), gains[held].shape), gains[held])
        return booster, bool(model <= prior)

    def _params(self, levels: list[float], seed: int, rows: int) -> dict:
        s = self.settings
        return {"objective": "lambdarank", "label_gain": levels, "eval_at": [10], "learning_rate": s.learning_rate,
                "num_leaves": s.leaves, "min_data_in_leaf": s.min_leaf, "feature_fraction": 0.9,
                "bagging_fraction": 0.8, "bagging_freq": 1, "seed": seed, "deterministic": True,
                "force_row_wise": True, "num_threads": _threads(rows), "verbose": -1}

    def _features(self, pool, embeddings, texts, categories, stacked, data=None, idx=None) -> np.ndarray:
        s = self.settings
        x = item_features.features(pool, embeddings, texts, categories, s.knn_k, s.temperature, s.shrink,
                                   s.category_shrink, s.ridge, s.response_k, s.dropped())
        scores = [model.held_out_scores(data, idx) if data is not None else _scores_of(model, embeddings, texts)
                  for model in stacked]
        return np.concatenate([x, np.stack(scores, axis=-1).astype(np.float32)], axis=-1) if scores else x

    def _predict(self, x: np.ndarray, booster=None) -> np.ndarray:
        if booster is None and self.fallback:
            return np.broadcast_to(self.pool.gains.mean(axis=0), x.shape[:2]).astype(np.float64)
        rows = x.reshape(-1, x.shape[-1])
        return (booster or self.booster).predict(rows, num_threads=_threads(len(rows))).reshape(x.shape[:2]) \
            .astype(np.float64)

    def held_out_scores(self, data, idx: np.ndarray) -> np.ndarray:
        return self._predict(self._features(self.pool, data.embeddings[idx], [data.texts[i] for i in idx],
                                            _picked(data.categories, idx), self.stacked, data, idx))

    def held_out_report(self, data, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Each held-out query carries its fold model's share of the total gain of every feature,
        so the CV report's means are the folds' importances weighted by fold size."""
        return {"prior_fallback": np.full(len(idx), float(self.fallback)),
                **{f"importance.{name}": np.full(len(idx), value) for name, value in self.importances().items()}}

    def importances(self) -> dict[str, float]:
        """Each feature's share of the total split gain (0 everywhere for a fallback to the prior)."""
        gain = self.booster.feature_importance("gain") * (not self.fallback)
        return {name: float(v / max(gain.sum(), 1e-12)) for name, v in zip(self.columns, gain)}

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        return self._predict(self._features(self.pool, embeddings, texts, None, self.stacked))

    def manifest(self) -> dict:
        return {**super().manifest(), "features": self.columns, "importance": self.importances(),
                "prior_fallback": self.fallback, "rounds": self.booster.best_iteration or self.booster.num_trees()}

    def save_weights(self, directory: Path) -> None:
        from ..formats.io import atomic_output

        np.savez(directory / "pool.npz", **self.pool.arrays())
        with atomic_output(directory / "lightgbm.txt") as f:
            f.write(self.booster.model_to_string())
        for model in self.stacked:
            model.save(directory / "stack" / model.name)

    def restore(self, manifest: dict) -> None:
        self.columns, self.fallback = manifest["features"], manifest["prior_fallback"]

    def load_weights(self, directory: Path) -> None:
        from . import load

        stored = np.load(directory / "pool.npz", allow_pickle=False)
        self.pool = item_features.Pool(**{k: stored[k] for k in stored.files})
        self.booster = _lightgbm().Booster(model_str=(directory / "lightgbm.txt").read_text())
        self.stacked = [load(directory / "stack" / name, self.runtime) for name in self.settings.stacked()]


def _threads(rows: int) -> int:
    """One thread below a million rows: LightGBM's threads cost more than they bring there (2 cores:
    a 31k-row lambdarank round took 8 ms on one thread, 16-35 ms on two)."""
    return 1 if rows < 1_000_000 else len(os.sched_getaffinity(0))


def _picked(values: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return values[idx] if values is not None else None


def _scores_of(model, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
    """A stacked ranker's pool scores for queries given as text (it may read other features)."""
    if model.query_features == "embeddings":
        return model.score_pool(embeddings, texts)
    return np.stack(model.score(texts, [model.items] * len(texts)))
