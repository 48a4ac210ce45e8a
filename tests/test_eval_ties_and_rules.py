"""Hand-worked cases for trec_eval's rules (alike in 9.0.8, 10.0, 10.0-rc2), values derived from its source."""
import math

import pytest

from llmrank_cli.evaluation import evaluate, parse_measures
from llmrank_cli.formats import Qrels, Run


def run_of(rows, name="run"):
    qid, docno, score = zip(*rows)
    return Run.from_columns(qid, docno, score, name=name)


def qrels_of(rows):
    qid, docno, rel = zip(*rows)
    return Qrels.from_columns(qid, docno, rel)


def agg(qrels, run, *measures, **kw):
    ms = parse_measures(list(measures))
    return dict(zip([m.label for m in ms], evaluate(qrels, run, ms, **kw).aggregate()))


def test_ties_broken_by_docno_descending():
    qrels = qrels_of([("q", "a", 1), ("q", "b", 0)])
    run = run_of([("q", "a", 1.0), ("q", "b", 1.0)])  # tie: b sorts before a
    v = agg(qrels, run, "P@1", "RR", "AP")
    assert v == {"P@1": 0.0, "RR": 0.5, "AP": 0.5}


def test_scores_differing_in_seventh_digit_are_not_ties():
    # trec_eval keeps scores as doubles; pytrec_eval's float32 would call this a tie.
    qrels = qrels_of([("q", "a", 1), ("q", "b", 0)])
    run = run_of([("q", "a", 0.50000002), ("q", "b", 0.50000001)])
    assert agg(qrels, run, "P@1")["P@1"] == 1.0


def test_rank_column_is_ignored_scores_decide(write):
    from llmrank_cli.formats import read_run
    qrels = qrels_of([("q", "a", 1), ("q", "b", 0)])
    path = write("r.run", "q Q0 a 1 0.1 t\nq Q0 b 2 0.9 t\n")  # ranks say a first, scores say b
    assert agg(qrels, read_run(path), "P@1")["P@1"] == 0.0


def test_graded_and_negative_labels():
    qrels = qrels_of([("q", "a", 3), ("q", "b", -1), ("q", "c", 1), ("q", "d", 0), ("q", "e", 2)])
    run = run_of([("q", "b", 5), ("q", "a", 4), ("q", "d", 3), ("q", "c", 2)])
    v = agg(qrels, run, "NumRel", "P@2", "AP", "nDCG@3", "bpref", "Judged@4", "AP(rel=2)")
    assert v["NumRel"] == 3  # negative labels are "unjudged in pool", never relevant
    assert v["P@2"] == 0.5
    assert v["AP"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    dcg = 3 / math.log2(3)  # b (-1) gains nothing, a (3) at rank 2, d (0) at rank 3
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    assert v["nDCG@3"] == pytest.approx(dcg / idcg)
    # bpref: b unjudged (skipped); a before any judged nonrel -> 1; c after d (1 nonrel of min(1, 3))
    assert v["bpref"] == pytest.approx((1 + 0) / 3)
    assert v["Judged@4"] == 1.0
    assert v["AP(rel=2)"] == pytest.approx((1 / 2) / 2)


def test_queries_missing_on_either_side_and_complete():
    qrels = qrels_of([("q1", "a", 1), ("q2", "b", 1)])
    run = run_of([("q1", "a", 1.0), ("q3", "c", 1.0)])  # q3 unjudged: ignored; q2 unretrieved
    assert agg(qrels, run, "AP", "NumQ") == {"AP": 1.0, "NumQ": 1}
    assert agg(qrels, run, "AP", "NumQ", complete=True) == {"AP": 0.5, "NumQ": 2}


def test_max_docs_cuts_after_ordering():
    qrels = qrels_of([("q", "a", 1)])
    run = run_of([("q", "a", 0.1), ("q", "b", 0.9), ("q", "c", 0.5)])
    assert agg(qrels, run, "R@1000", max_docs=2)["R@1000"] == 0.0
    assert agg(qrels, run, "R@1000", max_docs=3)["R@1000"] == 1.0


def test_rel_level_applies_to_binary_measures_not_ndcg():
    qrels = qrels_of([("q", "a", 1), ("q", "b", 2)])
    run = run_of([("q", "a", 2.0), ("q", "b", 1.0)])
    assert agg(qrels, run, "map", rel_level=2)["map"] == 0.5
    assert agg(qrels, run, "ndcg_cut.10", rel_level=2)["ndcg_cut_10"] == agg(qrels, run, "ndcg_cut.10")["ndcg_cut_10"]


def test_trec_gain_parameters_follow_trec_eval_ordering():
    # trec_eval sorts its gain table with an int-truncating comparator: 0.7 ties with 0.0,
    # so the walk for the ideal ranking starts at gain 0 and nDCG is 0 for this query.
    qrels = qrels_of([("q", "a", 1), ("q", "b", 2), ("q", "c", 0)])
    run = run_of([("q", "a", 3.0), ("q", "b", 2.0), ("q", "c", 1.0)])
    assert agg(qrels, run, "ndcg.1=1.0,2=0.7")["ndcg_1=1.0,2=0.7"] == 0.0  # trec_eval's printed name
    # integer gains order correctly: levels 1 -> 3, 2 -> 1 make label 1 the best.
    v = agg(qrels, run, "ndcg.1=3,2=1")["ndcg_1=3,2=1"]
    assert v == pytest.approx(1.0)


def test_gain_map_orders_gains_truly():
    qrels = qrels_of([("q", "a", 1), ("q", "b", 2), ("q", "c", 0)])
    best_first = run_of([("q", "a", 3.0), ("q", "b", 2.0), ("q", "c", 1.0)])
    gains = ((0, 0.0), (1, 1.0), (2, 0.7))
    assert agg(qrels, best_first, "nDCG@10", gains=gains)["nDCG@10"] == pytest.approx(1.0)
    worse = run_of([("q", "b", 3.0), ("q", "a", 2.0)])
    expected = (0.7 + 1.0 / math.log2(3)) / (1.0 + 0.7 / math.log2(3))
    assert agg(qrels, worse, "nDCG@10", gains=gains)["nDCG@10"] == pytest.approx(expected)


def test_duplicate_docno_is_an_input_error(write):
    from llmrank_cli.errors import InputError
    from llmrank_cli.formats import read_run
    path = write("dup.run", "q Q0 a 1 2 t\nq Q0 b 2 1 t\nq Q0 a 3 0.5 t\n")
    with pytest.raises(InputError, match=r"dup.run:3: docno a appears more than once for qid q"):
        evaluate(qrels_of([("q", "a", 1)]), read_run(path), parse_measures(["P@1"]))


def test_external_measure_uses_trec_order():
    # ERR is computed by ir_measures (gdeval wants numeric qids), on our tie order (b before a).
    qrels = qrels_of([("1", "a", 1), ("1", "b", 0)])
    tied = run_of([("1", "a", 1.0), ("1", "b", 1.0)])
    ordered = run_of([("1", "b", 2.0), ("1", "a", 1.0)])
    reversed_ = run_of([("1", "a", 2.0), ("1", "b", 1.0)])
    assert agg(qrels, tied, "ERR@10") == agg(qrels, ordered, "ERR@10") != agg(qrels, reversed_, "ERR@10")
