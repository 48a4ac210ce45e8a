"""What differs between the trec_eval versions `eval --trec-eval` reproduces, worked by hand, and
one value per measure whatever its spelling (trec_eval's or ir_measures')."""
import ir_measures
import pytest

import llmrank
from llmrank_cli.evaluation.versions import DEFAULT, VERSIONS

from .test_eval_vs_trec_eval import _random_files

# 4 relevant docs, the run d1 n1 n2 n3 d2: 0.3 * 4 = 1.2 relevant docs. 10.0 cuts at lround(1.2) = 1
# (precision 1.0 at d1); 9.0.8 at (long)(1.2 + 0.9) = 2 (the best precision from d2 on: 2/5).
QRELS = {"q": {"d1": 1, "d2": 1, "d3": 1, "d4": 1, "n1": 0}}
RUN = {"q": {"d1": 5.0, "n1": 4.0, "n2": 3.0, "n3": 2.0, "d2": 1.0}}


@pytest.mark.parametrize("version, expected", [("9.0.8", 0.4), ("10.0", 1.0), ("10.0-rc2", 1.0)])
def test_interpolated_precision_cuts_by_the_versions_rule(version, expected):
    row = llmrank.evaluate(QRELS, RUN, ["iprec_at_recall.0.3", "IPrec@0.3"], trec_eval=version).iloc[0]
    assert row["iprec_at_recall_0.30"] == row["IPrec@0.3"] == pytest.approx(expected)


def test_the_default_is_nists_current_release():
    assert DEFAULT == "10.0"
    row = llmrank.evaluate(QRELS, RUN, ["IPrec@0.3"]).iloc[0]
    assert row["IPrec@0.3"] == 1.0


# ir_measures' spellings of trec_eval measures -> their trec_eval labels
SPELLINGS = {"IPrec@0.3": "iprec_at_recall_0.30", "IPrec@0.7": "iprec_at_recall_0.70", "SetP": "set_P",
             "SetP(relative=True)": "set_relative_P", "SetR": "set_recall", "SetF(beta=0.5)": "set_F_0.5",
             "SetAP": "set_map", "infAP": "infAP"}
TREC_NAMES = ["iprec_at_recall.0.3,0.7", "set_P", "set_relative_P", "set_recall", "set_F.0.5", "set_map", "infAP"]


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("seed", range(6))
def test_one_measure_one_value_whatever_its_spelling(tmp_path, version, seed):
    qrels, run = _random_files(seed, tmp_path, binary=False)
    ir = llmrank.evaluate(qrels, run, [*SPELLINGS, "SetP(rel=2)"], per_query=True, trec_eval=version)
    trec = llmrank.evaluate(qrels, run, TREC_NAMES, per_query=True, trec_eval=version)
    for spelling, label in SPELLINGS.items():
        assert ir[spelling].tolist() == trec[label].tolist(), spelling
    level2 = llmrank.evaluate(qrels, run, ["set_P"], per_query=True, rel_level=2, trec_eval=version)
    assert ir["SetP(rel=2)"].tolist() == level2["set_P"].tolist()


def test_9_0_8_has_no_rbp_or_unj(cli, write):
    qrels, run = write("qrels", "1 0 a 1\n"), write("run", "1 Q0 a 1 1.0 t\n")
    for measure in ("rbp", "rbp_resid.p=0.5", "unj.5"):
        r = cli("eval", "--format", "trec", "--trec-eval", "9.0.8", "-m", measure, qrels, run)
        assert r.code == 2 and "not in trec_eval 9.0.8" in r.err and len(r.err.splitlines()) == 1 and not r.out
    labels = llmrank.evaluate(qrels, run, ["all_trec"], trec_eval="9.0.8").columns
    assert "rbp" not in labels and "unj_5" not in labels and "infAP" in labels
    assert "rbp" in llmrank.evaluate(qrels, run, ["all_trec"]).columns


def test_an_unknown_version_is_one_line(cli, write):
    qrels, run = write("qrels", "1 0 a 1\n"), write("run", "1 Q0 a 1 1.0 t\n")
    r = cli("eval", "--trec-eval", "9.0.9", qrels, run)
    assert r.code == 2 and "--trec-eval must be one of 9.0.8, 10.0, 10.0-rc2" in r.err and not r.out


def test_complete_under_10_scores_a_missing_query_on_the_stand_in_ranking():
    """trec_eval 10.0's -c: the query the run lacks is printed, and measures not reset after its
    stand-in document keep its value (rbp_resid with a parameter: the one doc is unjudged)."""
    qrels = {"1": {"a": 1}, "2": {"a": 1, "b": 1}}
    run = {"1": {"a": 1.0}}
    measures = ["rbp_resid.p=0.5", "utility", "num_ret", "P.5"]
    new = llmrank.evaluate(qrels, run, measures, complete=True, per_query=True, trec_eval="10.0").set_index("query_id")
    old = llmrank.evaluate(qrels, run, measures, complete=True, per_query=True, trec_eval="10.0-rc2")
    assert new.loc["2", ["rbp_resid_p=0.5", "utility", "num_ret", "P_5"]].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert new.loc["all", "rbp_resid_p=0.5"] == 0.5 and new.loc["all", "num_ret"] == 1
    old = old.set_index("query_id")  # rc2 and 9.0.8 score it 0 (and trec_eval prints no line for it)
    assert old.loc["2", "rbp_resid_p=0.5"] == old.loc["all", "rbp_resid_p=0.5"] == 0.0


def test_without_complete_10_would_stop_llmrank_notes_it(cli, write):
    qrels, run = write("qrels", "1 0 a 1\n2 0 a 1\n"), write("run", "1 Q0 a 1 1.0 t\n")
    for fmt in ("trec", "table"):
        r = cli("eval", "--format", fmt, "-m", "P.1", qrels, run)
        assert r.code == 0 and "trec_eval 10.0 stops on such files (exit 4)" in r.err and "1 queries in both" in r.err
    r = cli("eval", "--format", "trec", "-m", "P.1", "--trec-eval", "9.0.8", qrels, run)
    assert r.code == 0 and r.err == "" and r.out.split() == ["P_1", "all", "1.0000"]


def test_ir_measures_average_over_the_queries_they_define():
    """Accuracy is undefined on a query without a doc at the relevance level: ir_measures leaves it
    out of the mean, and so does llmrank (it once counted it as 0)."""
    qrels = {"1": {"a": 2, "b": 0}, "2": {"a": 1, "b": 0}}
    run = {"1": {"a": 1.0, "b": 0.5}, "2": {"a": 1.0, "b": 0.5}}
    ours = llmrank.evaluate(qrels, run, ["Accuracy(rel=2)"], per_query=True).set_index("query_id")
    theirs = ir_measures.calc_aggregate([ir_measures.parse_measure("Accuracy(rel=2)")], qrels, run)
    assert ours.loc["all", "Accuracy(rel=2)"] == list(theirs.values())[0] == 1.0
    assert ours["Accuracy(rel=2)"].isna().tolist() == [False, True, False]


def test_aggregate_row_carries_the_run_tag(write):
    qrels, run = write("qrels", "1 0 a 1\n"), write("run", "1 Q0 a 1 1.0 mytag\n")
    frame = llmrank.evaluate(qrels, run, ["runid", "map"])
    assert frame["runid"].tolist() == ["mytag"]
