"""The common measures, as every trec_eval version computes them, read off shared running sums.

Each takes (measure, ranked run, judgements, -l level, --gains map) and returns one value
per query, reading only the rows that count (relevant docs, docs with a gain); a cutoff k
reads their running sum at rank k, so ``P.5,10,...`` costs one pass.
"""
from __future__ import annotations

import numpy as np

from .ranked import MISSING, Judgements, Ranked

BIG = np.iinfo(np.int64).max


def safe_div(a, b) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)


def _k(m) -> int:
    return BIG if m.cutoff is None else m.cutoff


def precision(m, r: Ranked, j: Judgements, level, gains):
    rel = r.relevant(level)
    if m.cutoff is None:  # ir_measures' P without a cutoff: over everything retrieved
        return safe_div(rel.per_query(), r.num_ret())
    return r.count_at(rel, m.cutoff) / m.cutoff


def recall(m, r, j, level, gains):
    return safe_div(r.count_at(r.relevant(level), _k(m)), j.num_rel(level))


def ap_sum(r: Ranked, level: int) -> np.ndarray:
    """Running sum of the precision at each relevant doc, rank by rank (trec_eval's order)."""
    rel = r.relevant(level)
    return r.memo(("ap_sum", level), lambda: rel.running((rel.rank + 1.0) / (rel.pos + 1.0)))


def average_precision(m, r, j, level, gains):
    return safe_div(r.sum_at(r.relevant(level), ap_sum(r, level), _k(m)), j.num_rel(level))


def reciprocal_rank(m, r, j, level, gains):
    rel = r.relevant(level)
    first = (rel.rank == 0) & (rel.pos < _k(m))
    out = np.zeros(r.n_q)
    out[rel.code[first]] = 1.0 / (rel.pos[first] + 1.0)
    return out


def r_precision(m, r, j, level, gains):
    R = j.num_rel(level)
    return safe_div(r.count_at(r.relevant(level), R), R)


def success(m, r, j, level, gains):
    return (r.count_at(r.relevant(level), _k(m)) > 0).astype(np.float64)


def nonrelevant(r: Ranked, level: int):
    """Judged docs below the level (labels 0 .. level-1)."""
    return r.rows(("nonrelevant", level), lambda: (r.label >= 0) & (r.label < level))


def bpref(m, r, j, level, gains):
    def make():
        num_rel = j.num_rel(level)
        num_nonrel = j.count((j.label >= 0) & (j.label < level))
        rel = r.relevant(level)
        nr = nonrelevant(r, level).upto(rel.code, rel.pos)[0].astype(np.float64)  # judged non-relevant above
        R, denom = num_rel[rel.code], np.minimum(num_nonrel[rel.code], num_rel[rel.code])
        credit = np.where(nr > 0, 1.0 - np.minimum(nr, R) / np.where(denom > 0, denom, 1), 1.0)
        return safe_div(rel.per_query(credit), num_rel)
    return r.memo(("bpref", level), make)


def judged(m, r, j, level, gains):
    cut = np.ones(len(r.pos), bool) if m.cutoff is None else r.pos < m.cutoff
    return safe_div(r.per_query((r.label != MISSING) & cut), r.per_query(cut))


def gain_of(labels: np.ndarray, gains) -> np.ndarray:
    g = np.where(labels > 0, labels, 0).astype(np.float64)
    for label, gain in gains or ():
        g[labels == label] = gain
    g[labels < 0] = 0.0  # negative labels and unjudged docs never gain
    return g


def ndcg(m, r, j, level, default_gains):
    from .trec_measures import ndcg_params

    if m.trec_gains is not None:
        return ndcg_params(m, r, j, level, default_gains)
    gains = m.gains if m.gains is not None else default_gains
    # trec_eval's ndcg counts any non-zero gain; ndcg_cut counts positive gains only.
    positive = m.cutoff is not None
    judged = r.relevant(0)  # only docs judged >= 0 have a gain
    g = r.memo(("gain_of", gains), lambda: gain_of(r.label[judged.index], gains))
    counted = r.memo(("counted", gains, positive), lambda: judged.where((g > 0) if positive else (g != 0)))
    dcg = r.memo(("dcg", gains, positive),
                 lambda: counted.running(g[(g > 0) if positive else (g != 0)] / np.log2(counted.pos + 2.0)))
    ideal = j.ideal_dcg(gain_of(j.label, gains), m.cutoff, ("ideal", gains))
    return safe_div(r.sum_at(counted, dcg, _k(m)), ideal)


def num_ret(m, r, j, level, gains):
    return r.num_ret()


def num_rel_ret(m, r, j, level, gains):
    return r.relevant(level).per_query()


def num_rel(m, r, j, level, gains):
    return j.num_rel(level)


def num_q(m, r, j, level, gains):
    return np.ones(r.n_q)


MEASURES = {"P": precision, "R": recall, "AP": average_precision, "RR": reciprocal_rank, "Rprec": r_precision,
            "Success": success, "Bpref": bpref, "Judged": judged, "nDCG": ndcg, "NumRet": num_ret,
            "NumRelRet": num_rel_ret, "NumRel": num_rel, "NumQ": num_q}
