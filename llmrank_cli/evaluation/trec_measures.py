"""trec_eval's measures beyond the common ones, vectorised over all queries at once.

Each function takes the ranked run and the qrels of the evaluated queries
(:mod:`.ranked`) and returns one value per query, following the C code of
trec_eval's ``m_<name>.c`` step for step, quirks included: relevance codes -1
(retrieved, not in the qrels) and -2 (in the qrels with a negative label),
recall cutoffs by the version's rule (:mod:`.versions`), ``(long)(x + 0.9)`` R multiples, powers of p by repeated
multiplication, gain tables and ideal walks as :mod:`.gain_table` builds them.
"""
from __future__ import annotations

import numpy as np

from .core_measures import average_precision, bpref
from .core_measures import safe_div as _div
from .gain_table import code_of, discount, gain_tables, ideal_at, ideal_cum, ideal_positions
from .ranked import UNJUDGED, trec_rel
from .ranked import starts as _starts
from .versions import recall_cut, version

INFAP_EPSILON = 1e-5


def _counts(r, level: int):
    """Relevant retrieved and retrieved, per query."""
    return r.relevant(level).per_query(), r.num_ret()


def _num_rel(j, level: int) -> np.ndarray:
    return j.num_rel(level)


# ---- precision / recall family ------------------------------------------------------------

def _interpolated(m, m_levels, r, j, level):
    """trec_eval's interpolated precision at the cut-th relevant doc (cut from f * R by the
    measure's version), one column per level."""
    rel = r.relevant(level)
    rel_ret, R = rel.per_query(), _num_rel(j, level)
    # the best precision at or below each relevant doc: below the last one precision only falls
    best = r.memo(("best_precision", level),
                  lambda: rel.running((rel.rank + 1.0) / (rel.pos + 1.0), np.maximum, reverse=True))
    rel_start, _ = _starts(rel.code, r.n_q)
    out = np.zeros((len(m_levels), r.n_q))
    for k, f in enumerate(m_levels):
        cut = recall_cut(version(m.trec_eval), f * R)
        # the cut-th relevant doc; cut 0 takes the first, whose best precision is the overall best
        at = np.clip(rel_start + np.maximum(cut.astype(np.int64), 1) - 1, 0, max(len(best) - 1, 0))
        value = best[at] if len(best) else np.zeros(r.n_q)
        out[k] = np.where((cut <= rel_ret) & (rel_ret > 0), value, 0.0)
    return out


def iprec_at_recall(m, r, j, level, gains):
    return _interpolated(m, [m.param], r, j, level)[0]


def pt_avg(m, r, j, level, gains):
    total = np.zeros(r.n_q)
    for column in _interpolated(m, m.param, r, j, level)[::-1]:  # trec_eval adds from the last level down
        total += column
    return total / len(m.param)


def Rprec_mult(m, r, j, level, gains):
    cut = np.trunc(m.param * _num_rel(j, level) + 0.9).astype(np.int64)
    return _div(r.count_at(r.relevant(level), cut), cut)


def relative_P(m, r, j, level, gains):
    return _div(r.count_at(r.relevant(level), m.cutoff), np.minimum(m.cutoff, _num_rel(j, level)))


def set_P(m, r, j, level, gains):
    rel_ret, ret = _counts(r, level)
    return _div(rel_ret, ret)


def set_recall(m, r, j, level, gains):
    rel_ret, _ = _counts(r, level)
    return _div(rel_ret, _num_rel(j, level))


def set_relative_P(m, r, j, level, gains):
    rel_ret, ret = _counts(r, level)
    R = _num_rel(j, level)
    return np.where(R > 0, _div(rel_ret, np.minimum(ret, R)), 0.0)


def set_map(m, r, j, level, gains):
    rel_ret, ret = _counts(r, level)
    return _div(rel_ret * rel_ret, ret * _num_rel(j, level))


def set_F(m, r, j, level, gains):
    rel_ret, ret = _counts(r, level)
    p, rec, x = _div(rel_ret, ret), _div(rel_ret, _num_rel(j, level)), m.param[0]
    return np.where(rel_ret > 0, _div((x + 1.0) * p * rec, x * p + rec), 0.0)


def utility(m, r, j, level, gains):
    rel_ret, ret = _counts(r, level)
    a, b, c, d = m.param
    return a * rel_ret + b * (ret - rel_ret) + c * (_num_rel(j, level) - rel_ret) + d * (rel_ret - ret - _num_rel(j, level))


def num_nonrel_judged_ret(m, r, j, level, gains):
    rel = trec_rel(r)
    return r.per_query((rel >= 0) & (rel < level))


def _unjudged(r) -> np.ndarray:
    """Not in the qrels, or judged negative: usually most of a deep run, so kept as a mask."""
    return r.memo("unjudged", lambda: r.label < 0)


def unj(m, r, j, level, gains):
    return r.per_query(_unjudged(r) & (r.pos < m.cutoff)) / m.cutoff


def infAP(m, r, j, level, gains):
    rel = r.rows(("judged_relevant", level), lambda: trec_rel(r) >= max(level, 0))
    nonrel = r.rows(("nonrelevant", level), lambda: (r.label >= 0) & (r.label < level))
    pooled = r.rows("pooled_unjudged", lambda: trec_rel(r) == UNJUDGED)
    prev, fj = rel.rank.astype(np.float64), rel.pos.astype(np.float64)  # relevant so far, less this one
    nonrel_before = nonrel.upto(rel.code, rel.pos)[0]
    pooled_before = pooled.upto(rel.code, rel.pos)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        term = 1.0 / (fj + 1) + (fj / (fj + 1)) * ((prev + nonrel_before + pooled_before) / fj) * \
            ((prev + INFAP_EPSILON) / (prev + nonrel_before + 2 * INFAP_EPSILON))
    return _div(rel.per_query(np.where(rel.pos == 0, 1.0, term)), _num_rel(j, level))


def binG(m, r, j, level, gains):
    rel = r.relevant(level)
    return _div(rel.per_query(1.0 / np.log2(3.0 + rel.pos - (rel.rank + 1))), _num_rel(j, level))


# ---- gain-based: trec_eval's gain table, its ideal walk --------------------------------------

def ndcg_params(m, r, j, level, gains):
    ideal = gain_tables(m.trec_gains, r, j)
    g = ideal.doc_gain
    dcg = r.per_query(g != 0, g * discount(r.pos))
    code, pos = ideal_positions(ideal)
    return _div(dcg, np.bincount(code, ideal.gain * discount(pos), minlength=r.n_q))


def _gained(ideal, r, params):
    """The docs with a non-zero gain, their gains and running DCG (the rest add nothing)."""
    rows = r.rows(("gained", params), lambda: ideal.doc_gain != 0)
    g = ideal.doc_gain[rows.index]
    return rows, g, r.memo(("rdcg", params), lambda: rows.running(g * discount(rows.pos)))


def ndcg_rel(m, r, j, level, gains):
    ideal = gain_tables(m.trec_gains, r, j)
    rows, g, rdcg = _gained(ideal, r, m.trec_gains or ())
    code, pos = ideal_positions(ideal)
    idcg = ideal_cum(ideal, ideal.gain * discount(pos))
    positive = g > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.bincount(rows.code[positive], (rdcg / ideal_at(ideal, idcg, rows.code, rows.pos))[positive],
                            minlength=r.n_q).astype(np.float64)
        last = _last(rows, rdcg)
        total += (ideal.length - np.bincount(rows.code[positive], minlength=r.n_q)) * last / \
            ideal_at(ideal, idcg, np.arange(r.n_q), ideal.length)
    return np.where((total > 0) & (ideal.length > 0), _div(total, ideal.length), 0.0)


def _last(rows, running: np.ndarray) -> np.ndarray:
    """A running sum's final value per query (0 for a query without rows)."""
    last = rows.last()
    return np.where(last >= 0, running[np.maximum(last, 0)], 0.0) if len(running) else np.zeros(rows.n_q)


def Rndcg(m, r, j, level, gains):
    ideal = gain_tables(m.trec_gains, r, j)
    rows, g, rdcg = _gained(ideal, r, m.trec_gains or ())
    code, pos = ideal_positions(ideal)
    idcg = ideal_cum(ideal, ideal.gain * discount(pos))
    n_ret = r.bounds()[1]
    # ndcg is taken where the ideal gain changes: after position p when p + 1 starts a new gain or ends the walk
    nxt = np.r_[ideal.gain[1:], 0.0] if len(ideal.gain) else ideal.gain
    change = (pos + 1 == ideal.length[code]) | (nxt != ideal.gain)
    n, at = rows.upto(code, np.minimum(pos, n_ret[code] - 1))  # the results' DCG at that rank (or their end)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n > 0, rdcg[np.clip(at, 0, max(len(rdcg) - 1, 0))] if len(rdcg) else 0.0, 0.0) / idcg
        total = np.bincount(code[change], ratio[change], minlength=r.n_q).astype(np.float64)
        count = np.bincount(code[change], minlength=r.n_q).astype(np.float64)
        extra = (n_ret >= ideal.length + 2) & (ideal.length > 0)
        total += np.where(extra, _last(rows, rdcg) / ideal_at(ideal, idcg, np.arange(r.n_q), ideal.length), 0.0)
        count += extra
        out = total / count
    return np.where(_num_rel(j, level) > 0, out, 0.0)


def G(m, r, j, level, gains):
    ideal = gain_tables(m.trec_gains, r, j)
    rows, g, _ = _gained(ideal, r, m.trec_gains or ())
    cost = ideal_cum(ideal, np.maximum(ideal.gain, 1.0))
    beyond = np.maximum(rows.pos - ideal.length[rows.code] + 1, 0)  # past the ideal walk each rank costs 1
    cost_at = ideal_at(ideal, cost, rows.code, rows.pos) + beyond
    with np.errstate(divide="ignore", invalid="ignore"):
        term = g / np.log2(2.0 + cost_at - rows.running(g))
    return _div(rows.per_query(term), np.bincount(code_of(ideal), ideal.gain, minlength=r.n_q))


def _persistence(m) -> float:
    return next((v for k, v in (m.param or ()) if k == "p"), 0.9)


def _powers(p: float, n: int) -> np.ndarray:
    """p**0 .. p**(n-1) by repeated multiplication, as trec_eval's loop computes them."""
    return np.r_[1.0, np.cumprod(np.full(max(n - 1, 0), p))][:max(n, 1)]


def rbp(m, r, j, level, gains):
    params = m.trec_gains or ()
    ideal = gain_tables(params, r, j)
    if np.all(ideal.table_min == 0):  # rescaling keeps zero gains zero: only the gained docs count
        rows, g, _ = _gained(ideal, r, params)
    else:
        rows = r.rows(("rbp", params), lambda: ideal.doc_listed | (ideal.doc_gain != 0))
        g = ideal.doc_gain[rows.index]
    # trec_eval rescales the table to [0, 1] when it leaves it; its min/max start uninitialised (0 here)
    lo, hi = ideal.table_min[rows.code], ideal.table_max[rows.code]
    g = np.where(ideal.doc_listed[rows.index] & ((lo < 0) | (hi > 1)), _div(g - lo, hi - lo), g)
    p = _persistence(m)
    return (1.0 - p) * rows.per_query(np.where(g != 0, g * _powers(p, rows.width)[rows.pos], 0.0))


def rbp_resid(m, r, j, level, gains):
    p = _persistence(m)
    n_ret = r.bounds()[1]
    power = _powers(p, int(n_ret.max(initial=0)) + 1)
    unjudged = n_ret - r.relevant(0).per_query()  # all but the docs judged >= 0
    # every doc passes through the sum, the judged ones adding 0.0: the same additions as trec_eval's
    value = power[n_ret] + (1.0 - p) * np.bincount(r.code, np.where(_unjudged(r), power[r.pos], 0.0),
                                                   minlength=r.n_q)
    return np.where(unjudged > 0, value, 0.0)


def relstring(m, r, j, level, gains) -> list[str]:
    """The top docs' relevance codes as characters: digit, '>' above 9, '-' not in the qrels,
    '.' judged negative, '<' other negatives."""
    keep = r.pos < max(int(m.param[0]), 0)
    code = trec_rel(r)[keep]
    symbols = np.array(list("<.-0123456789>"))  # codes below -2, -2, -1, 0..9, above 9
    chars = symbols[np.clip(code, -3, 10) + 3]
    out = [""] * r.n_q
    codes = r.code[keep]
    start, n = _starts(codes, r.n_q)
    for q in np.flatnonzero(n):
        out[q] = "".join(chars[start[q]:start[q] + n[q]])
    return out


MEASURES = {"iprec_at_recall": iprec_at_recall, "11pt_avg": pt_avg, "Rprec_mult": Rprec_mult,
            "relative_P": relative_P, "set_P": set_P, "set_recall": set_recall, "set_relative_P": set_relative_P,
            "set_map": set_map, "set_F": set_F, "utility": utility, "num_nonrel_judged_ret": num_nonrel_judged_ret,
            "unj": unj, "infAP": infAP, "gm_map": average_precision, "gm_bpref": bpref, "binG": binG, "G": G,
            "ndcg_rel": ndcg_rel, "Rndcg": Rndcg, "rbp": rbp, "rbp_resid": rbp_resid}
