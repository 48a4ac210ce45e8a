"""Paired significance tests against a baseline, with multiple-testing correction.

Tests run on per-query values over the queries both runs were evaluated on.
Corrections are applied per measure across the runs compared with the baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TESTS = ("t", "wilcoxon", "permutation")
CORRECTIONS = ("none", "bonferroni", "holm")


@dataclass
class Comparison:
    run_name: str
    measure: str
    delta: float       # mean(run) - mean(baseline)
    p_value: float     # after correction
    wins: int
    ties: int
    losses: int
    significant: bool


def paired_p_value(run: np.ndarray, base: np.ndarray, test: str = "t",
                   permutations: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value; 1.0 when the runs do not differ on any query."""
    from scipy import stats

    diff = run - base
    if len(diff) < 2 or np.allclose(diff, 0.0, atol=1e-12):
        return 1.0
    if test == "t":
        return float(stats.ttest_rel(run, base).pvalue)
    if test == "wilcoxon":
        return float(stats.wilcoxon(run, base, zero_method="wilcox").pvalue)
    if test == "permutation":
        result = stats.permutation_test((run, base), lambda x, y: np.mean(x - y), permutation_type="samples",
                                        n_resamples=permutations, rng=np.random.default_rng(seed))
        return float(result.pvalue)
    raise ValueError(f"unknown test {test!r}")


def correct(p_values: np.ndarray, method: str) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if method == "none" or m == 0:
        return p
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        order = np.argsort(p)
        adjusted = np.maximum.accumulate(np.minimum(1.0, p[order] * (m - np.arange(m))))
        out = np.empty(m)
        out[order] = adjusted
        return out
    raise ValueError(f"unknown correction {method!r}")


def corrected_per_measure(rows: list[tuple], correction: str, alpha: float) -> list[tuple]:
    """``(key, Comparison)`` rows of uncorrected tests, their p-values corrected per measure over
    all the rows of that measure (runs × categories, runs × baselines), in measure order."""
    from dataclasses import replace

    out = []
    for measure in dict.fromkeys(c.measure for _, c in rows):
        same = [(key, c) for key, c in rows if c.measure == measure]
        for (key, c), p in zip(same, correct(np.array([c.p_value for _, c in same]), correction)):
            out.append((key, replace(c, p_value=float(p), significant=bool(p < alpha))))
    return out


def win_tie_loss(run: np.ndarray, base: np.ndarray, eps: float = 1e-9) -> tuple[int, int, int]:
    diff = run - base
    return int((diff > eps).sum()), int((np.abs(diff) <= eps).sum()), int((diff < -eps).sum())


def compare_to_baseline(evaluations, baseline: int, test: str = "t", correction: str = "holm",
                        alpha: float = 0.05, permutations: int = 10000, seed: int = 0) -> list[Comparison]:
    """Every run but the baseline against it, on each measure (counts, strings and geometric
    means are not tested)."""
    base = evaluations[baseline]
    others = [e for i, e in enumerate(evaluations) if i != baseline]
    out: list[Comparison] = []
    for mi, measure in enumerate(base.measures):
        if measure.summed or measure.text or measure.geometric:  # gm_*: no per-query mean to test
            continue
        rows = []
        for ev in others:
            common = sorted(set(ev.qids) & set(base.qids))
            a = ev.values[mi][[ev.qids.index(q) for q in common]] if common else np.zeros(0)
            b = base.values[mi][[base.qids.index(q) for q in common]] if common else np.zeros(0)
            defined = ~(np.isnan(a) | np.isnan(b))  # ir_measures' undefined queries pair with nothing
            a, b = a[defined], b[defined]
            rows.append((ev, a, b, paired_p_value(a, b, test, permutations, seed)))
        adjusted = correct(np.array([r[3] for r in rows]), correction)
        for (ev, a, b, _), p in zip(rows, adjusted):
            w, t, l = win_tie_loss(a, b)
            delta = float(a.mean() - b.mean()) if len(a) else 0.0
            out.append(Comparison(ev.run_name, measure.label, delta, float(p), w, t, l, bool(p < alpha)))
    return out
