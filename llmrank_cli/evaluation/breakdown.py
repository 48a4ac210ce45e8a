"""Every measure broken down by query category (``eval --by FILE``, ``cv`` on a data directory
with categories), as the Million LLMs track reports: per category an evaluation of each run on
that category's queries, and paired tests per category, corrected per measure over all the
(category, run) pairs tested."""
from __future__ import annotations

from dataclasses import replace


from ..errors import LlmrankError
from .engine import Evaluation
from .significance import compare_to_baseline, corrected_per_measure


def subset(ev: Evaluation, qids: list[str], name: str) -> Evaluation:
    """``ev`` on the queries ``qids`` (a subset of its own) under another name."""
    index = {q: i for i, q in enumerate(ev.qids)}
    rows = [index[q] for q in qids]
    return replace(ev, run_name=name, qids=list(qids), values=ev.values[:, rows],
                   present=ev.present[rows] if ev.present is not None else None,
                   texts={k: [v[i] for i in rows] for k, v in ev.texts.items()}, totals={})


def by_category(ev: Evaluation, category_of: dict[str, str], source: str) -> dict[str, Evaluation]:
    """Category -> ``ev`` on its queries, named ``RUN @ CATEGORY``, categories sorted; a query of
    the run without a category is an error naming the category file."""
    missing = [q for q in ev.qids if q not in category_of]
    if missing:
        raise LlmrankError(f"{source}: no category for {len(missing)} of the {len(ev.qids)} queries of "
                           f"{ev.run_name} (first: {missing[0]})")
    groups: dict[str, list[str]] = {}
    for q in ev.qids:
        groups.setdefault(category_of[q], []).append(q)
    return {c: subset(ev, groups[c], f"{ev.run_name} @ {c}") for c in sorted(groups)}


def compare_by_category(split: list[dict[str, Evaluation]], test: str, correction: str, alpha: float,
                        permutations: int = 10000, seed: int = 0) -> list:
    """Each run (``split[1:]``) against the baseline (``split[0]``) within every category; p-values
    corrected per measure across all categories and runs."""
    raw = []
    for category, base in split[0].items():
        raw += [(category, c) for c in compare_to_baseline([base] + [s[category] for s in split[1:] if category in s],
                                                           0, test, "none", alpha, permutations, seed)]
    return [c for _, c in corrected_per_measure(raw, correction, alpha)]


def compared(evals: list[Evaluation], baseline: bool, category_of: dict[str, str] | None, source: str | None,
             test: str, correction: str, alpha: float, permutations: int, seed: int) -> tuple[list, list]:
    """(evaluations, comparisons) as ``eval`` reports them: with a baseline (``evals[0]``) each
    other run's paired tests; with categories, every run per category after the runs themselves,
    and the tests per category too."""
    tested = baseline and len(evals) > 1
    comparisons = compare_to_baseline(evals, 0, test, correction, alpha, permutations, seed) if tested else []
    if category_of is None:
        return evals, comparisons
    split = [by_category(ev, category_of, source) for ev in evals]
    if tested:
        comparisons += compare_by_category(split, test, correction, alpha, permutations, seed)
    return evals + [s[category] for category in split[0] for s in split if category in s], comparisons
