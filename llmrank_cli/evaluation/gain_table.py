"""trec_eval's gain table (``setup_gains``, alike in every version) and its walk to the ideal ranking.

Per query the table holds the measure's ``LEVEL=GAIN`` parameters, then every judged level
0..max not among them with gain = level, sorted by glibc's merge sort with trec_eval's
int-truncating comparator. The ideal ranking walks it from the top, skipping empty levels and
stopping at the first non-empty level whose gain is not positive. ndcg (with parameters),
ndcg_rel, Rndcg, G and rbp read their gains and ideal gains from here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ranked import gather, segment_accumulate, starts, trec_rel


@dataclass
class Ideal:
    """Each query's ideal gain sequence (trec_eval's walk) and each retrieved doc's gain."""

    gain: np.ndarray       # ideal gains, grouped by query, in walk order
    start: np.ndarray      # where each query's sequence begins
    length: np.ndarray     # its length (the number of positive ideal gains)
    doc_gain: np.ndarray   # gain of each retrieved doc
    doc_listed: np.ndarray  # whether its relevance code is in the gain table at all
    table_min: np.ndarray  # per query: min and max of the gain table (rbp's normalisation)
    table_max: np.ndarray


def _trec_cmp(a, b) -> int:
    return int(a[1] - b[1])


def glibc_msort(items: list, cmp=_trec_cmp) -> list:
    """glibc's qsort (a top-down merge sort) with trec_eval's comparator, whose int
    truncation makes gains less than 1 apart compare equal; Python's sort would differ."""
    if len(items) <= 1:
        return list(items)
    half = len(items) // 2
    left, right = glibc_msort(items[:half], cmp), glibc_msort(items[half:], cmp)
    out = []
    while left and right:
        out.append(left.pop(0) if cmp(left[0], right[0]) <= 0 else right.pop(0))
    return out + left + right


def trec_gain_order_differs(params) -> bool:
    """Whether trec_eval's truncating comparator leaves these gains (and label 0) out of order."""
    table = [[label, gain] for label, gain in params] + [[0, 0.0]]
    return [t[1] for t in glibc_msort(table)] != sorted(t[1] for t in table)


def _table(params: tuple, top_level: int) -> list:
    """trec_eval's setup_gains: the parameters, then levels 0..top not among them, sorted."""
    given = {level for level, _ in params}
    rows = [[level, gain] for level, gain in params] + [[lv, float(lv)] for lv in range(top_level + 1)
                                                        if lv not in given]
    return glibc_msort(rows)


def gain_tables(params: tuple, r, j) -> Ideal:
    """The gains of the docs and each query's ideal gains, kept per parameter set."""
    params = params or ()
    return r.memo(("gain_tables", params), lambda: _gain_tables(params, r, j))


def _gain_tables(params: tuple, r, j) -> Ideal:
    judged = j.label >= 0
    top = np.full(r.n_q, -1, np.int64)
    np.maximum.at(top, j.code[judged], j.label[judged])
    walk_pos = np.zeros(len(j.label), np.int64)
    row_gain = np.zeros(len(j.label))
    table_min, table_max = np.zeros(r.n_q), np.zeros(r.n_q)
    doc_gain, doc_listed = np.zeros(len(r.pos)), np.zeros(len(r.pos), bool)
    rel = trec_rel(r)
    # only docs judged >= 0 (and, for a parameter on level -1 or -2, those codes) can be in a table
    negative = {lv for lv, _ in params if lv < 0}
    docs_in = r.relevant(0).index if not negative else np.flatnonzero((rel >= 0) | np.isin(rel, list(negative)))
    doc_top = top[r.code[docs_in]]
    for t in np.unique(top):
        queries = top == t
        table = _table(params, int(t))
        gain_of = {}
        for i, (lv, g) in enumerate(table):
            gain_of.setdefault(lv, (len(table) - 1 - i, g))  # walk position (from the top), gain; first wins
        rows = queries[j.code] & judged
        labels = j.label[rows]
        looked = np.array([gain_of[int(x)] for x in np.unique(labels)]) if len(labels) else np.zeros((0, 2))
        idx = np.searchsorted(np.unique(labels), labels)
        walk_pos[rows] = looked[idx, 0] if len(labels) else 0
        row_gain[rows] = looked[idx, 1] if len(labels) else 0
        gains = [g for _, g in table]
        table_min[queries] = min([0.0] + gains)
        table_max[queries] = max([0.0] + gains)
        docs = docs_in[doc_top == t]
        listed = {lv: g for lv, g in reversed(table)}  # get_gain: the first entry in table order wins
        levels = np.array(sorted(listed), dtype=np.int64)
        at = np.clip(np.searchsorted(levels, rel[docs]), 0, len(levels) - 1)
        found = levels[at] == rel[docs]
        doc_gain[docs] = np.where(found, np.array([listed[lv] for lv in levels.tolist()])[at], 0.0)
        doc_listed[docs] = found
    # the walk stops at the first judged entry (from the top) whose gain is not positive
    stop = np.full(r.n_q, np.iinfo(np.int64).max)
    bad = judged & (row_gain <= 0)
    np.minimum.at(stop, j.code[bad], walk_pos[bad])
    keep = judged & (walk_pos < stop[j.code]) & (row_gain > 0)
    code, pos_key, gain = j.code[keep], walk_pos[keep], row_gain[keep]
    order = np.lexsort((pos_key, code))
    start, length = starts(code[order], r.n_q)
    return Ideal(gain[order], start, length, doc_gain, doc_listed, table_min, table_max)


def ideal_cum(ideal: Ideal, x: np.ndarray) -> np.ndarray:
    """Running sum of x along each query's ideal sequence."""
    code, pos = ideal_positions(ideal)
    return segment_accumulate(np.add, x, code, pos, len(ideal.start))


def ideal_at(ideal: Ideal, cum: np.ndarray, code: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """cum at min(pos, length - 1) of each query's ideal sequence; 0 where it is empty."""
    return gather(cum, ideal.start[code], ideal.length[code], np.asarray(pos) + 1)


def discount(pos) -> np.ndarray:
    return 1.0 / np.log2(np.asarray(pos, np.float64) + 2.0)


def ideal_positions(ideal: Ideal) -> tuple[np.ndarray, np.ndarray]:
    code = code_of(ideal)
    return code, np.arange(len(code)) - ideal.start[code]


def code_of(ideal: Ideal) -> np.ndarray:
    """The query of each entry of the ideal sequences."""
    return np.repeat(np.arange(len(ideal.start)), ideal.length)
