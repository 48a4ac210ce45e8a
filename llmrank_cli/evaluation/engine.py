"""trec_eval's numbers, computed on whole columns at once.

The run is put in trec_eval's order (score descending as a double, ties by
docno descending), cut at ``-M``, joined to the qrels, and every measure is a
handful of vectorised reductions over that single ordered array. Rules follow
trec_eval 9.0.8: only queries in both run and qrels count (``-c`` adds the
qrels queries missing from the run as zeros), negative labels mean "judged
pool but unjudged", ``ndcg_cut`` uses the labels as gains, and ``ndcg`` with
gain parameters orders its gain table the way trec_eval's comparator does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import LlmrankError
from ..formats import Qrels, Run
from . import trec_measures
from .measures import Measure

MISSING = np.iinfo(np.int64).min  # label of a retrieved doc absent from the qrels


@dataclass
class Evaluation:
    """Per-query values of each measure for one run; ``values[m, q]``."""

    run_name: str
    measures: list[Measure]
    qids: list[str]
    values: np.ndarray
    present: np.ndarray | None = None  # queries in the run; -c adds the qrels' others, scored 0
    texts: dict[str, list[str]] = field(default_factory=dict)  # measures whose values are strings
    totals: dict[str, float] = field(default_factory=dict)     # 'all' values that are no sum or mean

    def aggregate(self) -> np.ndarray:
        if not self.qids:
            return np.zeros(len(self.measures))
        out = np.zeros(len(self.measures))
        for i, m in enumerate(self.measures):
            v = self.values[i]
            if m.label in self.totals:
                out[i] = self.totals[m.label]
            elif m.summed:
                out[i] = _running_sum(v)
            elif m.geometric:  # trec_eval: exp of the mean log, each value floored at MIN_GEO_MEAN
                out[i] = np.exp(_running_sum(np.log(np.maximum(v, 1e-5))) / len(v))
            else:
                out[i] = _running_sum(v) / len(v)
        return out

    def column(self, label: str) -> np.ndarray:
        return self.values[[m.label for m in self.measures].index(label)]


def _running_sum(v: np.ndarray) -> float:
    """Left-to-right sum, as trec_eval accumulates (numpy's pairwise sum can differ in the last bit)."""
    return float(np.cumsum(v)[-1]) if len(v) else 0.0


def segment_accumulate(ufunc, x: np.ndarray, code: np.ndarray, pos: np.ndarray, n_q: int,
                       reverse: bool = False) -> np.ndarray:
    """ufunc.accumulate along each query's rows (code sorted, pos 0..n-1), each query on its own,
    in the order trec_eval's loops run: exact where an offset trick would round."""
    if not len(x):
        return np.asarray(x, np.float64)
    width = int(pos.max()) + 1
    if n_q * width <= 4 * len(x) + (1 << 20):  # a padded matrix, one row per query
        grid = np.zeros((n_q, width))
        grid[code, pos] = x
        if reverse:
            grid = ufunc.accumulate(grid[:, ::-1], axis=1)[:, ::-1]
        else:
            grid = ufunc.accumulate(grid, axis=1)
        return grid[code, pos]
    out = np.empty(len(x))
    bounds = np.flatnonzero(np.r_[True, code[1:] != code[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        out[a:b] = ufunc.accumulate(x[a:b][::-1])[::-1] if reverse else ufunc.accumulate(x[a:b])
    return out


@dataclass
class _Ranked:
    """The run joined to the qrels, in trec_eval order: one entry per retrieved doc."""

    code: np.ndarray   # query index into the evaluated qids
    pos: np.ndarray    # 0-based rank within the query
    label: np.ndarray  # qrels label, MISSING if not judged
    docno: pa.ChunkedArray
    n_q: int

    def per_query(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[mask]
        return np.bincount(self.code[mask], w, minlength=self.n_q).astype(np.float64)

    def within_query(self, ufunc, x: np.ndarray, reverse: bool = False) -> np.ndarray:
        """ufunc.accumulate of x inside each query, in rank order (or from the last rank up)."""
        return segment_accumulate(ufunc, x, self.code, self.pos, self.n_q, reverse)

    def within_query_cumsum(self, x: np.ndarray) -> np.ndarray:
        """Inclusive running sum of x inside each query; exact for counts (for other values,
        :meth:`within_query` adds in trec_eval's order)."""
        c = np.cumsum(x, dtype=np.float64)
        starts = np.flatnonzero(self.pos == 0)
        before = np.zeros(self.n_q)
        present = self.code[starts]
        before[present] = c[starts] - x[starts]
        return c - before[self.code]


@dataclass
class _Judgements:
    """Qrels of the evaluated queries: labels grouped by query index."""

    code: np.ndarray
    label: np.ndarray
    n_q: int

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.code[mask], minlength=self.n_q).astype(np.float64)

    def ideal_dcg(self, gains: np.ndarray, cutoff: int | None) -> np.ndarray:
        keep = gains > 0
        code, g = self.code[keep], gains[keep]
        order = np.lexsort((-g, code))
        code, g = code[order], g[order]
        pos = np.arange(len(code)) - np.searchsorted(code, code)
        if cutoff is not None:
            code, g, pos = code[pos < cutoff], g[pos < cutoff], pos[pos < cutoff]
        return np.bincount(code, g / np.log2(pos + 2.0), minlength=self.n_q)


def evaluate(qrels: Qrels, run: Run, measures: list[Measure], rel_level: int = 1,
             complete: bool = False, max_docs: int | None = None,
             gains: tuple[tuple[int, float], ...] | None = None) -> Evaluation:
    """Evaluate one run; ``gains`` maps labels to gains for every nDCG without its own."""
    run.check_scores()
    run.check_unique()
    qrels.check_unique()
    qrel_qids = pc.unique(qrels.table["qid"])
    table = run.table.filter(pc.is_in(run.table["qid"], value_set=qrel_qids))
    table = table.take(pc.sort_indices(table, sort_keys=[("qid", "ascending"), ("score", "descending"),
                                                         ("docno", "descending")]))
    run_qids = pc.unique(table["qid"])
    # queries in both (run_qids is sorted already), or with -c every qrels query, sorted
    eval_qids = qrel_qids.take(pc.sort_indices(qrel_qids)) if complete else run_qids
    ranked = _rank(table, eval_qids, max_docs, qrels)
    judged = _judgements(qrels, eval_qids)
    present = np.zeros(len(eval_qids), bool)
    present[np.unique(ranked.code)] = True
    values = np.zeros((len(measures), len(eval_qids)))
    ev = Evaluation(run.name, measures, eval_qids.to_pylist(), values, present)
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
        elif m.kind != "NumRel":  # -c: missing queries count as zeros
            values[i][~present] = 1.0 if m.kind == "NumQ" else 0.0
    return ev


def _rank(table: pa.Table, eval_qids: pa.Array, max_docs: int | None, qrels: Qrels) -> _Ranked:
    code = pc.index_in(table["qid"], value_set=eval_qids).to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(code)
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if n else np.zeros(0, np.int64)
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    if max_docs is not None:
        keep = pos < max_docs
        table, code, pos = table.filter(pa.array(keep)), code[keep], pos[keep]
    keyed = pa.table({"qid": table["qid"], "docno": table["docno"], "_row": np.arange(len(code))})
    joined = keyed.join(qrels.table, keys=["qid", "docno"], join_type="inner")
    label = np.full(len(code), MISSING, dtype=np.int64)
    label[joined["_row"].to_numpy()] = joined["rel"].to_numpy()
    return _Ranked(code, pos, label, table["docno"], len(eval_qids))


def _judgements(qrels: Qrels, eval_qids: pa.Array) -> _Judgements:
    code = pc.index_in(qrels.table["qid"], value_set=eval_qids).to_numpy(zero_copy_only=False)
    keep = ~np.isnan(code) if code.dtype.kind == "f" else np.ones(len(code), bool)
    code = np.nan_to_num(code, nan=-1).astype(np.int64) if code.dtype.kind == "f" else code.astype(np.int64)
    label = qrels.table["rel"].to_numpy()
    return _Judgements(code[keep], label[keep], len(eval_qids))


def _cut(r: _Ranked, m: Measure) -> np.ndarray:
    return np.ones(len(r.pos), bool) if m.cutoff is None else r.pos < m.cutoff


def _num_rel(j: _Judgements, level: int) -> np.ndarray:
    return j.count(j.label >= level)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _p(m, r, j, level, gains):
    return r.per_query((r.label >= level) & _cut(r, m)) / m.cutoff if m.cutoff else \
        _safe_div(r.per_query(r.label >= level), r.per_query(np.ones(len(r.pos), bool)))


def _recall(m, r, j, level, gains):
    return _safe_div(r.per_query((r.label >= level) & _cut(r, m)), _num_rel(j, level))


def _ap(m, r, j, level, gains):
    rel = (r.label >= level) & _cut(r, m)
    precision = r.within_query_cumsum(rel.astype(np.float64)) / (r.pos + 1.0)
    return _safe_div(r.per_query(rel, precision), _num_rel(j, level))


def _rr(m, r, j, level, gains):
    rel = (r.label >= level) & _cut(r, m)
    out = np.zeros(r.n_q)
    codes, first = np.unique(r.code[rel], return_index=True)
    out[codes] = 1.0 / (r.pos[rel][first] + 1.0)
    return out


def _rprec(m, r, j, level, gains):
    num_rel = _num_rel(j, level)
    return _safe_div(r.per_query((r.label >= level) & (r.pos < num_rel[r.code])), num_rel)


def _success(m, r, j, level, gains):
    return (r.per_query((r.label >= level) & _cut(r, m)) > 0).astype(np.float64)


def _bpref(m, r, j, level, gains):
    num_rel = _num_rel(j, level)
    num_nonrel = j.count((j.label >= 0) & (j.label < level))
    nonrel = (r.label >= 0) & (r.label < level)
    nonrel_before = r.within_query_cumsum(nonrel.astype(np.float64))
    rel = r.label >= level
    nr, R = nonrel_before[rel], num_rel[r.code[rel]]
    denom = np.minimum(num_nonrel[r.code[rel]], R)
    credit = np.zeros(len(r.pos))
    credit[rel] = np.where(nr > 0, 1.0 - np.minimum(nr, R) / np.where(denom > 0, denom, 1), 1.0)
    return _safe_div(r.per_query(rel, credit), num_rel)


def _judged(m, r, j, level, gains):
    cut = _cut(r, m)
    judged = r.per_query((r.label != MISSING) & cut)
    return _safe_div(judged, r.per_query(cut))


def _gain_of(labels: np.ndarray, gains) -> np.ndarray:
    g = np.where(labels > 0, labels, 0).astype(np.float64)
    for label, gain in gains or ():
        g[labels == label] = gain
    g[labels < 0] = 0.0  # negative labels and unjudged docs never gain
    return g


def _ndcg(m, r, j, level, default_gains):
    if m.trec_gains is not None:
        return trec_measures.ndcg_params(m, r, j, level, default_gains)
    gains = m.gains if m.gains is not None else default_gains
    g = _gain_of(r.label, gains)
    # trec_eval's ndcg counts any non-zero gain; ndcg_cut counts positive gains only.
    counted = (g > 0) if m.cutoff is not None else (g != 0)
    discount = 1.0 / np.log2(r.pos + 2.0)
    dcg = r.per_query(counted & _cut(r, m), g * discount)
    return _safe_div(dcg, j.ideal_dcg(_gain_of(j.label, gains), m.cutoff))


def _num_ret(m, r, j, level, gains):
    return r.per_query(np.ones(len(r.pos), bool))


def _num_rel_ret(m, r, j, level, gains):
    return r.per_query(r.label >= level)


def _num_rel_measure(m, r, j, level, gains):
    return _num_rel(j, level)


def _num_q(m, r, j, level, gains):
    return np.ones(r.n_q)


_NATIVE = {"P": _p, "R": _recall, "AP": _ap, "RR": _rr, "Rprec": _rprec, "Success": _success,
           "Bpref": _bpref, "Judged": _judged, "nDCG": _ndcg, "NumRet": _num_ret,
           "NumRelRet": _num_rel_ret, "NumRel": _num_rel_measure, "NumQ": _num_q, **trec_measures.MEASURES}


def _external(m: Measure, qrels: Qrels, r: _Ranked, eval_qids: pa.Array, rel_level: int) -> np.ndarray:
    """A measure llmrank does not compute itself, from ir_measures, on our order.

    Scores are replaced by (n - rank) so that no provider can reorder ties its own way; -M
    has cut the ranking already, -c's missing queries score 0, and -l becomes the measure's
    ``rel`` unless it sets its own (a measure without ``rel`` is refused with -l)."""
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
    run_df = pd.DataFrame({"query_id": qid_text[r.code], "doc_id": r.docno.to_numpy(),
                           "score": (n[r.code] - r.pos).astype(np.float64)})
    qrels_df = pd.DataFrame({"query_id": qrels.table["qid"].to_numpy(),
                             "doc_id": qrels.table["docno"].to_numpy(),
                             "relevance": qrels.table["rel"].to_numpy()})
    index = {q: i for i, q in enumerate(qid_text)}
    out = np.zeros(r.n_q)
    for metric in ir_measures.iter_calc([measure], qrels_df, run_df):
        if metric.query_id in index:
            out[index[metric.query_id]] = metric.value
    return out
