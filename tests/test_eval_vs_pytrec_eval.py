"""Property test: on tie-free runs (distinct even as float32) our per-query values equal
pytrec_eval's, which compiles trec_eval's own measure code. Plus the DL19 reference figures."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrank_cli.evaluation import evaluate, parse_measures
from llmrank_cli.formats import Qrels, Run, read_qrels, read_run

from .conftest import shared

pytrec_eval = pytest.importorskip("pytrec_eval")

TREC = ["P_5", "P_10", "recall_5", "recall_10", "map", "map_cut_5", "recip_rank", "ndcg", "ndcg_cut_5",
        "ndcg_cut_10", "Rprec", "bpref", "success_5", "num_ret", "num_rel", "num_rel_ret"]
OURS = ["P.5,10", "recall.5,10", "map", "map_cut.5", "recip_rank", "ndcg", "ndcg_cut.5,10", "Rprec", "bpref",
        "success.5", "num_ret", "num_rel", "num_rel_ret"]


@st.composite
def collections(draw):
    qids = [f"q{i}" for i in range(draw(st.integers(1, 4)))]
    docs = [f"d{i:02d}" for i in range(25)]
    qrels, run = {}, {}
    for q in qids:
        judged = draw(st.lists(st.sampled_from(docs), unique=True, min_size=1, max_size=12))
        qrels[q] = {d: draw(st.integers(0, 3)) for d in judged}
        retrieved = draw(st.lists(st.sampled_from(docs), unique=True, min_size=1, max_size=20))
        scores = draw(st.lists(st.integers(-1000, 1000), unique=True, min_size=len(retrieved),
                               max_size=len(retrieved)))
        run[q] = {d: s / 8.0 for d, s in zip(retrieved, scores)}  # exact in float32: no hidden ties
    return qrels, run


def _ours(qrels, run, level):
    q = Qrels.from_columns(*zip(*[(qid, d, r) for qid, j in qrels.items() for d, r in j.items()]))
    r = Run.from_columns(*zip(*[(qid, d, s) for qid, docs in run.items() for d, s in docs.items()]))
    ms = parse_measures(OURS)
    ev = evaluate(q, r, ms, rel_level=level)
    return {qid: {m.label: ev.values[i, k] for i, m in enumerate(ms)} for k, qid in enumerate(ev.qids)}


@settings(max_examples=150, deadline=None)
@given(collections(), st.sampled_from([1, 2]))
def test_per_query_values_equal_pytrec_eval(data, level):
    qrels, run = data
    expected = pytrec_eval.RelevanceEvaluator(qrels, set(TREC), relevance_level=level).evaluate(run)
    got = _ours(qrels, run, level)
    assert set(got) == set(expected)
    for qid, values in expected.items():
        for name, value in values.items():
            assert got[qid][name] == pytest.approx(value, abs=1e-9), (qid, name)


@pytest.mark.slow
def test_dl19_bm25_reference_figures():
    d = shared("trec-dl", "dl19")
    ms = parse_measures(["nDCG@10", "AP(rel=2)@100"])
    values = evaluate(read_qrels(d / "qrels.txt"), read_run(d / "bm25-top100.run"), ms).aggregate()
    assert round(values[0], 4) == 0.5058
    assert round(values[1], 4) == 0.2476


@pytest.mark.slow
def test_dl19_all_runs_match_ir_measures():
    import ir_measures
    d = shared("trec-dl", "dl19")
    names = ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10", "P(rel=2)@10", "Rprec(rel=2)", "R@100", "Bpref"]
    qrels = read_qrels(d / "qrels.txt")
    for run_file in sorted(d.glob("*.run")):
        ours = evaluate(qrels, read_run(run_file), parse_measures(names)).aggregate()
        ref = ir_measures.calc_aggregate([ir_measures.parse_measure(n) for n in names],
                                         ir_measures.read_trec_qrels(str(d / "qrels.txt")),
                                         ir_measures.read_trec_run(str(run_file)))
        for n, v in zip(names, ours):
            assert v == pytest.approx(ref[ir_measures.parse_measure(n)], abs=1e-9), (run_file.name, n)
