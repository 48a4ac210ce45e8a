"""trec_eval's numbers, computed on whole columns at once.

The run is put in trec_eval's order (score descending as a double, ties by
docno descending), cut at ``-M``, joined to the qrels, and every measure is a
handful of vectorised reductions over that single ordered array. Rules follow
trec_eval: only queries in both run and qrels count (``-c`` adds the qrels
queries missing from the run: as zeros, or under 10.0 scored on its stand-in
ranking), negative labels mean "judged pool but unjudged", ``ndcg_cut`` uses
the labels as gains, and ``ndcg`` with gain parameters orders its gain table
the way trec_eval's comparator does. Where versions differ, :mod:`.versions`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError, LlmrankError
from ..formats import Qrels, Run
from . import core_measures, trec_measures
from .measures import Measure
from .ranked import Ranked, judgements, rank
from .versions import STAND_IN_DOCNO, version


@dataclass
class Evaluation:
    """Per-query values of each measure for one run; ``values[m, q]``."""

    run_name: str
    measures: list[Measure]
    qids: list[str]
    values: np.ndarray
    present: np.ndarray | None = None  # queries printed per query: the run's (10.0's -c: all)
    texts: dict[str, list[str]] = field(default_factory=dict)  # measures whose values are strings
    totals: dict[str, float] = field(default_factory=dict)     # 'all' values that are no sum or mean
    unranked: int = 0  # qrels queries the run has no results for (without -c: not evaluated)

    def aggregate(self) -> np.ndarray:
        if not self.qids:
            return np.zeros(len(self.measures))
        out = np.zeros(len(self.measures))
        for i, m in enumerate(self.measures):
            v = self.values[i]
            if m.kind == "external":  # ir_measures' mean: over the queries it defines the measure on
                v = v[~np.isnan(v)]
            if m.label in self.totals:
                out[i] = self.totals[m.label]
            elif m.summed:
                out[i] = _running_sum(v)
            elif m.geometric:  # trec_eval: exp of the mean log, each value floored at MIN_GEO_MEAN
                out[i] = np.exp(_running_sum(np.log(np.maximum(v, 1e-5))) / len(v))
            else:
                out[i] = _running_sum(v) / len(v) if len(v) else 0.0
        return out

    def column(self, label: str) -> np.ndarray:
        return self.values[[m.label for m in self.measures].index(label)]


def _running_sum(v: np.ndarray) -> float:
    """Left-to-right sum, as trec_eval accumulates (numpy's pairwise sum can differ in the last bit)."""
    return float(np.cumsum(v)[-1]) if len(v) else 0.0


def evaluate(qrels: Qrels, run: Run, measures: list[Measure], rel_level: int = 1,
             complete: bool = False, max_docs: int | None = None,
             gains: tuple[tuple[int, float], ...] | None = None, trec_eval: str | None = None) -> Evaluation:
    """Evaluate one run; ``gains`` maps labels to gains for every nDCG without its own;
    ``trec_eval`` the version whose ``-c`` rules apply (the measures carry their own).

    Refused, as trec_eval refuses them: an empty qrels file, an empty run, a run that shares no
    query with the qrels (even with -c, where 10.0 would print zeros: it is the wrong qrels)."""
    if not len(qrels):
        raise InputError(qrels.name, None, "no judgements: the qrels file is empty (trec_eval refuses it too)")
    run.check()
    qrels.check_unique()
    qrel_qids = pc.unique(qrels.table["qid"])
    in_both = pc.filter(qrel_qids, pc.is_in(qrel_qids, value_set=pc.unique(run.table["qid"])))
    if not len(in_both):
        raise LlmrankError(f"{run.name} shares no query with {qrels.name}: is it the run's qrels? "
                           f"(trec_eval stops here too, exit 7)")
    # queries in both, or with -c every qrels query; sorted as trec_eval sorts them (strcmp)
    eval_qids = qrel_qids if complete else in_both
    eval_qids = eval_qids.take(pc.sort_indices(eval_qids))
    present = pc.is_in(eval_qids, value_set=in_both).to_numpy(zero_copy_only=False)
    stand_in = complete and version(trec_eval).stand_in and not present.all()
    table = _with_stand_in(run.table, eval_qids.filter(pa.array(~present))) if stand_in else run.table
    ranked = rank(table, qrels.table, eval_qids, max_docs)
    judged = judgements(qrels.table, eval_qids)
    values = np.zeros((len(measures), len(eval_qids)))
    ev = Evaluation(run.name, measures, eval_qids.to_pylist(), values, np.ones(len(eval_qids), bool) if stand_in
                    else present, unranked=len(qrel_qids) - len(in_both))
    for i, m in enumerate(measures):
        level = rel_level if m.rel is None else m.rel
        if m.kind == "runid":
            ev.texts[m.label] = [run.tag] * len(eval_qids)
        elif m.kind == "relstring":
            ev.texts[m.label] = trec_measures.relstring(m, ranked, judged, level, gains)
        elif m.kind == "external":
            values[i] = _external(m, qrels, ranked, eval_qids, rel_level)
        else:
            values[i] = _NATIVE[m.kind](m, ranked, judged, level, gains)
        if m.kind == "NumRel" and complete:  # trec_eval -c: every qrels line with a positive label
            ev.totals[m.label] = float(pc.sum(pc.greater(qrels.table["rel"], 0)).as_py() or 0)
        elif stand_in and _cleared_after_stand_in(m):
            values[i][~present] = 0.0
            if m.label in ev.texts:
                ev.texts[m.label] = [t if here else "" for t, here in zip(ev.texts[m.label], present)]
        elif m.kind != "NumRel" and not stand_in:  # -c: missing queries count as zeros
            values[i][~present] = 1.0 if m.kind == "NumQ" else 0.0
    return ev


def _with_stand_in(table: pa.Table, missing: pa.Array) -> pa.Table:
    """The run plus trec_eval 10.0's stand-in ranking for each query it lacks (-c): one document,
    in no qrels, scored 1.0."""
    table = table.select(["qid", "docno", "score"])
    extra = pa.table({"qid": missing, "docno": pa.array([STAND_IN_DOCNO] * len(missing)),
                      "score": np.ones(len(missing))})
    return pa.concat_tables([table, extra.cast(table.schema)])


def _cleared_after_stand_in(m: Measure) -> bool:
    """The values trec_eval 10.0 resets on its stand-in ranking: by exact name, so
    ``utility_2,-1,0,0``, ``rbp_resid_p=0.8`` and ``relstring_4`` keep the stand-in's (trec_eval.c)."""
    return m.kind == "NumRet" or m.label in ("utility", "rbp_resid", "relstring") or m.label.startswith("unj")


_NATIVE = {**core_measures.MEASURES, **trec_measures.MEASURES}


def _external(m: Measure, qrels: Qrels, r: Ranked, eval_qids: pa.Array, rel_level: int) -> np.ndarray:
    """A measure llmrank does not compute itself, from ir_measures, on our order.

    Scores are replaced by (n - rank) so that no provider can reorder ties its own way; -M
    has cut the ranking already, -c's missing queries score 0, and -l becomes the measure's
    ``rel`` unless it sets its own (a measure without ``rel`` is refused with -l). A query the
    provider leaves undefined is NaN: left out of the mean, as ir_measures averages."""
    import ir_measures
    import pandas as pd

    measure = m.external
    if rel_level != 1 and "rel" not in measure.params:
        if "rel" not in getattr(measure, "SUPPORTED_PARAMS", {}):
            raise LlmrankError(f"{m.label} has no relevance level, so -l {rel_level} cannot apply to it; "
                               f"drop -l or the measure")
        measure = measure(rel=rel_level)

    n = np.bincount(r.code, minlength=r.n_q)
    qid_text = np.asarray(eval_qids.to_pylist(), dtype=object)
    run_df = pd.DataFrame({"query_id": qid_text[r.code], "doc_id": r.docno().to_numpy(),
                           "score": (n[r.code] - r.pos).astype(np.float64)})
    qrels_df = pd.DataFrame({"query_id": qrels.table["qid"].to_numpy(),
                             "doc_id": qrels.table["docno"].to_numpy(),
                             "relevance": qrels.table["rel"].to_numpy()})
    index = {q: i for i, q in enumerate(qid_text)}
    out = np.full(r.n_q, np.nan)
    try:
        for metric in ir_measures.iter_calc([measure], qrels_df, run_df):
            if metric.query_id in index:
                out[index[metric.query_id]] = metric.value
    except (ArithmeticError, ValueError, KeyError, IndexError) as exc:  # a provider's own failure
        raise LlmrankError(f"ir_measures could not compute {m.label} on these files: "
                           f"{type(exc).__name__}: {exc}") from None
    return out
