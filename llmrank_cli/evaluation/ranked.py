"""The run joined to the qrels in trec_eval's order, and the running sums measures share.

Measures read only the rows that matter to them (:class:`Rows`: the relevant docs, the docs
with a gain), and every cutoff reads a running sum over those rows at rank k, so
``P.5,10,...,1000``, recall, success, map_cut and ndcg_cut cost one pass whatever their
number of cutoffs. Sums of fractions are taken rank by rank inside each query, the order of
trec_eval's loops, so the last bit matches too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

MISSING = np.iinfo(np.int64).min  # label of a retrieved doc absent from the qrels
NONPOOL, UNJUDGED = -1, -2  # trec_eval's codes: not in the qrels; in them with a negative label


def trec_rel(r: "Ranked") -> np.ndarray:
    """trec_eval's relevance code of each retrieved doc."""
    return r.memo("trec_rel", lambda: np.where(r.label == MISSING, NONPOOL, np.where(r.label < 0, UNJUDGED, r.label)))


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
        grid = ufunc.accumulate(grid[:, ::-1], axis=1)[:, ::-1] if reverse else ufunc.accumulate(grid, axis=1)
        return grid[code, pos]
    out = np.empty(len(x))
    bounds = np.flatnonzero(np.r_[True, code[1:] != code[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        out[a:b] = ufunc.accumulate(x[a:b][::-1])[::-1] if reverse else ufunc.accumulate(x[a:b])
    return out


def starts(code: np.ndarray, n_q: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each query's rows begin in a query-sorted array, and how many it has."""
    starts = np.searchsorted(code, np.arange(n_q))
    return starts, np.diff(np.r_[starts, len(code)])


def gather(cum: np.ndarray, start: np.ndarray, length: np.ndarray, k) -> np.ndarray:
    """Per query: cum at its min(k, length)-th row (k counts from 1), 0 where that is no row."""
    kk = np.minimum(np.asarray(k), length).astype(np.int64)
    if not len(cum):
        return np.zeros(len(start))
    return np.where(kk > 0, cum[np.clip(start + kk - 1, 0, len(cum) - 1)], 0.0)


@dataclass
class Ranked:
    """The run joined to the qrels, in trec_eval order: one entry per retrieved doc."""

    code: np.ndarray   # query index into the evaluated qids
    pos: np.ndarray    # 0-based rank within the query
    label: np.ndarray  # qrels label, MISSING if not judged
    docnos: pa.ChunkedArray  # the run's docno column; order picks this ranking's entries
    n_q: int
    order: np.ndarray | None = None  # the run's row of each entry
    cache: dict = field(default_factory=dict, repr=False)

    def docno(self) -> pa.ChunkedArray:
        return self.docnos if self.order is None else self.docnos.take(pa.array(self.order))

    def memo(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.memo("bounds", lambda: starts(self.code, self.n_q))

    def num_ret(self) -> np.ndarray:
        return self.bounds()[1].astype(np.float64)

    def relevant(self, level: int) -> "Rows":
        return self.rows(("relevant", level), lambda: self.label >= level)

    def count_at(self, rows: "Rows", k) -> np.ndarray:
        """Per query: how many of rows rank in the top k (k: a number or one per query)."""
        return rows.upto(np.arange(self.n_q), np.asarray(k, np.int64) - 1)[0].astype(np.float64)

    def sum_at(self, rows: "Rows", running: np.ndarray, k) -> np.ndarray:
        """Per query: a running sum over rows, read at the last of them in the top k."""
        n, last = rows.upto(np.arange(self.n_q), np.asarray(k, np.int64) - 1)
        return np.where(n > 0, running[np.clip(last, 0, max(len(running) - 1, 0))], 0.0) if len(running) \
            else np.zeros(self.n_q)

    def rows(self, key, mask) -> "Rows":
        """The rows where mask() holds, kept under key: sums over them skip the others' zeros."""
        return self.memo(("rows", key), lambda: Rows.of(self, mask()))

    def per_query(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[mask]
        return np.bincount(self.code[mask], w, minlength=self.n_q).astype(np.float64)


@dataclass
class Rows:
    """Some rows of a ranking (relevant docs, docs with a gain), in rank order, so that running
    sums, counts and lookups "at or above rank p" touch only them."""

    index: np.ndarray  # row numbers in the ranking
    code: np.ndarray
    pos: np.ndarray    # rank in the full ranking
    n_q: int
    width: int         # above any rank: code * width + pos orders (query, rank)
    rank: np.ndarray   # 0-based rank among these rows of the query

    @classmethod
    def of(cls, r: Ranked, mask: np.ndarray) -> "Rows":
        index = np.flatnonzero(mask)
        code = r.code[index]
        start, _ = starts(code, r.n_q)
        return cls(index, code, r.pos[index], r.n_q, int(r.pos.max()) + 2 if len(r.pos) else 1,
                   np.arange(len(code)) - start[code])

    def per_query(self, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(self.code, weights, minlength=self.n_q).astype(np.float64)

    def where(self, keep: np.ndarray) -> "Rows":
        """The subset of these rows where keep (one bool per row here) holds."""
        code = self.code[keep]
        start, _ = starts(code, self.n_q)
        return Rows(self.index[keep], code, self.pos[keep], self.n_q, self.width, np.arange(len(code)) - start[code])

    def running(self, x: np.ndarray, ufunc=np.add, reverse: bool = False) -> np.ndarray:
        """Running sum (or max...) of x, one value per row here, inside each query, rank by rank."""
        return segment_accumulate(ufunc, x, self.code, self.rank, self.n_q, reverse)

    def last(self) -> np.ndarray:
        """Per query: index here of its last row (-1 for none)."""
        n = self.per_query().astype(np.int64)
        return np.where(n > 0, starts(self.code, self.n_q)[0] + n - 1, -1)

    def upto(self, code: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each (query, rank): how many of these rows sit at or above that rank, and the
        index here of the last of them (meaningful where the count is positive)."""
        keys = self.code * self.width + self.pos
        first = np.searchsorted(keys, code * self.width, side="left")
        last = np.searchsorted(keys, code * self.width + np.clip(pos, -1, self.width - 1), side="right")
        return np.maximum(last - first, 0), last - 1


@dataclass
class Judgements:
    """Qrels of the evaluated queries: labels grouped by query index."""

    code: np.ndarray
    label: np.ndarray
    n_q: int
    cache: dict = field(default_factory=dict, repr=False)

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.code[mask], minlength=self.n_q).astype(np.float64)

    def num_rel(self, level: int) -> np.ndarray:
        key = ("num_rel", level)
        if key not in self.cache:
            self.cache[key] = self.count(self.label >= level)
        return self.cache[key]

    def ideal_dcg(self, gains: np.ndarray, cutoff: int | None, key) -> np.ndarray:
        """DCG of the best order of these gains, at a cutoff; the running sum is kept per key."""
        if key not in self.cache:
            keep = gains > 0
            code, g = self.code[keep], gains[keep]
            order = np.lexsort((-g, code))
            code, g = code[order], g[order]
            pos = np.arange(len(code)) - np.searchsorted(code, code)
            cum = segment_accumulate(np.add, g / np.log2(pos + 2.0), code, pos, self.n_q)
            self.cache[key] = (cum, *starts(code, self.n_q))
        cum, start, n = self.cache[key]
        return gather(cum, start, n, np.iinfo(np.int64).max if cutoff is None else cutoff)


def trec_order(qid_index: np.ndarray, score: np.ndarray, table: pa.Table) -> np.ndarray:
    """Row order of trec_eval: query (qid_index, -1 = left out), score descending, docno
    descending. Runs usually arrive grouped by query with scores descending: then tied scores
    are sorted by docno and whole groups moved; any other run gets a full sort."""
    import pyarrow.compute as pc

    rows = np.flatnonzero(qid_index >= 0) if len(qid_index) and qid_index.min() < 0 else None
    q, s = (qid_index, score) if rows is None else (qid_index[rows], score[rows])
    if not len(q):
        return np.zeros(0, np.int64)
    same = q[1:] == q[:-1]
    starts = np.r_[0, np.flatnonzero(~same) + 1]
    if len(np.unique(q[starts])) != len(starts) or np.any(same & (s[1:] > s[:-1])):
        picked = np.arange(len(q)) if rows is None else rows
        sub = table.select(["score", "docno"]).take(pa.array(picked)).append_column("q", pa.array(q))
        return picked[pc.sort_indices(sub, sort_keys=[("q", "ascending"), ("score", "descending"),
                                                      ("docno", "descending")]).to_numpy()]
    order = np.arange(len(q))
    tied = np.flatnonzero(same & (s[1:] == s[:-1]))
    if len(tied):  # runs of equal scores inside a query: docno descending
        members = np.unique(np.r_[tied, tied + 1])
        run_id = np.cumsum(np.r_[True, ~np.isin(members[1:] - 1, tied)])  # a run starts where no tie links back
        picked = members if rows is None else rows[members]
        sub = pa.table({"run": run_id, "docno": table["docno"].take(pa.array(picked))})
        order[members] = members[pc.sort_indices(sub, sort_keys=[("run", "ascending"),
                                                                  ("docno", "descending")]).to_numpy()]
    by_query = np.argsort(q[starts], kind="stable")
    if np.any(by_query[1:] < by_query[:-1]):  # groups out of qid order: move them whole
        ends = np.r_[starts[1:], len(q)]
        order = np.concatenate([order[starts[g]:ends[g]] for g in by_query])
    return order if rows is None else rows[order]


def rank(run_table: pa.Table, qrels_table: pa.Table, eval_qids: pa.Array, max_docs: int | None) -> Ranked:
    """The run's rows of the evaluated queries in trec_eval's order, cut at -M, with their labels."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(run_table["qid"]).combine_chunks()
    qid_index = _codes(encoded.dictionary, eval_qids)[encoded.indices.to_numpy()]
    rows = trec_order(qid_index, run_table["score"].to_numpy(), run_table)
    code = qid_index[rows]
    pos = np.arange(len(code)) - starts(code, len(eval_qids))[0][code]
    if max_docs is not None:
        keep = pos < max_docs
        rows, code, pos = rows[keep], code[keep], pos[keep]
    label = _labels(run_table, rows, code, qrels_table, eval_qids)
    return Ranked(code, pos, label, run_table["docno"], len(eval_qids), order=rows)


def _codes(values, value_set) -> np.ndarray:
    """Position of each value in value_set, -1 where absent."""
    import pyarrow.compute as pc

    return pc.index_in(values, value_set=value_set).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


JOIN_ROWS = 1 << 20  # from this many run rows on, Arrow's hash join: 10M rows in 0.1 s, not 1 s


def _labels(run_table: pa.Table, rows: np.ndarray, code: np.ndarray, qrels_table: pa.Table,
            eval_qids: pa.Array) -> np.ndarray:
    """The qrels label of each run row in ``rows`` (query ``code``), MISSING where unjudged.
    Large runs meet the qrels in Arrow's multithreaded join; small ones in a lookup of (query,
    doc) integer keys, since loading Arrow's query engine is a sixth of a small ``eval`` call."""
    if run_table.num_rows >= JOIN_ROWS:
        keyed = pa.table({"qid": run_table["qid"], "docno": run_table["docno"], "_row": np.arange(run_table.num_rows)})
        joined = keyed.join(qrels_table, keys=["qid", "docno"], join_type="inner")
        label = np.full(run_table.num_rows, MISSING, dtype=np.int64)
        label[joined["_row"].to_numpy()] = joined["rel"].to_numpy()
        return label[rows]
    import pyarrow.compute as pc

    docs = pc.unique(qrels_table["docno"])
    judged_q, judged_d = _codes(qrels_table["qid"], eval_qids), _codes(qrels_table["docno"], docs)
    keep = judged_q >= 0
    doc = _codes(run_table["docno"].take(pa.array(rows)), docs)
    at = _codes(np.where(doc >= 0, code * len(docs) + doc, -1), pa.array(judged_q[keep] * len(docs) + judged_d[keep]))
    label = np.full(len(at), MISSING, dtype=np.int64)
    label[at >= 0] = qrels_table["rel"].to_numpy()[keep][at[at >= 0]]
    return label


def judgements(qrels_table: pa.Table, eval_qids: pa.Array) -> Judgements:
    code = _codes(qrels_table["qid"], eval_qids)
    keep = code >= 0
    return Judgements(code[keep], qrels_table["rel"].to_numpy()[keep], len(eval_qids))
