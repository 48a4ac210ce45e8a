"""The Python API (``import llmrank``): the same numbers as the CLI from every accepted input form,
names imported on use, and the README's example run as written."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import llmrank

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    from llmrank_cli.cli import main
    assert main(["--quiet", "sample", str(root / "sample")]) == 0
    return root


def _rows(path):
    return [line.split() for line in Path(path).read_text().splitlines()]


def test_evaluate_equals_the_cli_for_every_input_form(sample, cli):
    qrels, run = sample / "sample/passages/qrels.txt", sample / "sample/passages/bm25.run"
    measures = ["nDCG@10", "AP(rel=2)", "ndcg_cut.5", "P.10"]
    out = json.loads(cli("eval", qrels, run, *sum((["-m", m] for m in measures), []), "--format", "json").out)
    expected = out["runs"][0]["aggregate"]
    rows, judged = _rows(run), _rows(qrels)
    as_dict = {}
    for q, _, d, _, s, _ in rows:
        as_dict.setdefault(q, {})[d] = float(s)
    qrels_dict = {}
    for q, _, d, r in judged:
        qrels_dict.setdefault(q, {})[d] = int(r)
    forms = [
        (qrels, run),
        (qrels_dict, as_dict),  # pytrec_eval / ir_measures dicts
        (pd.DataFrame([(q, d, int(r)) for q, _, d, r in judged], columns=["query_id", "doc_id", "relevance"]),
         pd.DataFrame([(q, d, float(s)) for q, _, d, _, s, _ in rows], columns=["query_id", "doc_id", "score"])),
        (pd.DataFrame([(q, d, int(r)) for q, _, d, r in judged], columns=["q_id", "doc_id", "score"]),  # ranx
         pd.DataFrame([(q, d, float(s)) for q, _, d, _, s, _ in rows], columns=["q_id", "doc_id", "score"])),
        (pd.DataFrame([(q, d, int(r)) for q, _, d, r in judged], columns=["qid", "docno", "label"]),  # PyTerrier
         pd.DataFrame([(q, d, float(s)) for q, _, d, _, s, _ in rows], columns=["qid", "docno", "score"])),
    ]
    for q, r in forms:
        table = llmrank.evaluate(q, r, measures)
        assert list(table.columns) == ["run", "query_id", "P_10", "ndcg_cut_5", "nDCG@10", "AP(rel=2)"]
        assert table.query_id.tolist() == ["all"]
        for label, value in expected.items():
            assert table[label].iloc[0] == pytest.approx(value, abs=5e-5), (label, type(r))


def test_per_query_rows_and_named_runs(sample):
    p = sample / "sample/passages"
    runs = {"bm25": p / "bm25.run", "qld": p / "qld.run"}
    table = llmrank.evaluate(p / "qrels.txt", runs, ["ndcg_cut.10"], per_query=True)
    assert table.run.unique().tolist() == ["bm25", "qld"]
    per_run = table[table.query_id != "all"].groupby("run")["ndcg_cut_10"].mean()
    alls = table[table.query_id == "all"].set_index("run")["ndcg_cut_10"]
    assert per_run.to_dict() == pytest.approx(alls.to_dict())
    assert len(table) == 2 * (15 + 1)


def test_compare_equals_the_cli_baseline_test(sample, cli):
    p = sample / "sample/passages"
    out = json.loads(cli("eval", p / "qrels.txt", p / "bm25.run", p / "qld.run", "--baseline", p / "bm25.run",
                         "-m", "nDCG@10", "--format", "json").out)
    vs = out["runs"][1]["vs_baseline"]["nDCG@10"]
    table = llmrank.compare(p / "qrels.txt", {"bm25": p / "bm25.run", "qld": p / "qld.run"}, "bm25", ["nDCG@10"])
    row = table.iloc[0]
    assert (row.run, row.measure) == ("qld", "nDCG@10")
    assert (row.wins, row.ties, row.losses) == (vs["wins"], vs["ties"], vs["losses"])
    assert row.p_value == pytest.approx(vs["p_value"], rel=1e-6)


def test_fuse_and_validate_equal_the_cli(sample, cli, tmp_path):
    p = sample / "sample/passages"
    cli("fuse", p / "bm25.run", p / "qld.run", "--method", "combmnz", "-o", tmp_path / "cli.run")
    llmrank.write_run(llmrank.fuse([p / "bm25.run", p / "qld.run"], "combmnz"), tmp_path / "api.run", tag="fused")
    assert (tmp_path / "api.run").read_text() == (tmp_path / "cli.run").read_text()
    dup = tmp_path / "dup.run"
    dup.write_text("101 Q0 a 1 3 A\n101 Q0 a 2 2 A\n")
    assert [f.severity for f in llmrank.validate(dup)] == ["error"]
    with pytest.raises(llmrank.LlmrankError, match="at least two runs"):
        llmrank.fuse([p / "bm25.run"])
    with pytest.raises(llmrank.LlmrankError, match="one of the columns"):
        llmrank.evaluate(p / "qrels.txt", pd.DataFrame({"a": [1]}), ["P@1"])


def test_import_costs_nothing_until_used():
    code = "import sys, llmrank; print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert "evaluate" in dir(llmrank)
    with pytest.raises(AttributeError):
        llmrank.nothing_here


def test_readme_example_runs(sample):
    """The README's Python API example, as written, in a directory holding the embedded sample."""
    text = README.read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S)
    assert block, "README has no Python API example"
    done = subprocess.run([sys.executable, "-c", block.group(1)], cwd=sample, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "bm25" in done.stdout and (sample / "sample/fused.run").exists()


def test_rerank_takes_the_commands_job_and_returns_its_run(sample, cli, tmp_path):
    """llmrank.rerank by keywords, by a RerankJob with a ranker setting, and from a Run in memory:
    the rows `llmrank rerank` writes; a bad field, setting or kind is one LlmrankError before
    any file is read."""
    p = sample / "sample" / "passages"
    files = {"topics": str(p / "topics.tsv"), "corpus": str(p / "corpus.jsonl")}
    flags = ["--topics", files["topics"], "--corpus", files["corpus"], "--model", "all-MiniLM-L6-v2", "--kind", "bi",
             "--depth", "5"]
    for extra in ([], ["--similarity", "dot"]):
        out = tmp_path / f"cli{len(extra)}.run"
        assert cli("--quiet", "rerank", "--run", str(p / "bm25.run"), *flags, *extra, "-o", str(out)).code == 0
        job = llmrank.RerankJob(run=str(p / "bm25.run"), model="all-MiniLM-L6-v2", kind="bi", depth=5, **files)
        run = llmrank.rerank(job, **({"similarity": "dot"} if extra else {}))
        assert run.output_order().to_pylist() == llmrank.read_run(str(out)).output_order().to_pylist()
    in_memory = llmrank.rerank(run=llmrank.read_run(str(p / "bm25.run")), model="all-MiniLM-L6-v2", kind="bi",
                               depth=5, **files)
    expected = llmrank.read_run(str(tmp_path / "cli0.run")).output_order().to_pylist()
    assert in_memory.output_order().to_pylist() == expected
    for bad, problem in [({"kind": "nope"}, "unknown ranker 'nope'"), ({"depth": 0}, "--depth must be at least 1"),
                         ({"window": 4}, "'window' is neither a field of RerankJob nor a setting of --kind bi"),
                         ({"device": "tpu"}, "--device must be one of")]:
        with pytest.raises(llmrank.LlmrankError, match=re.escape(problem)):
            llmrank.rerank(**{"run": "missing.run", "model": "m", "kind": "bi", **files, **bad})


@pytest.fixture(scope="module")
def llm_data(sample):
    """The sample's LLM-ranking topics and qrels as a data directory (`prepare items`)."""
    from llmrank_cli.cli import main

    llm = sample / "sample" / "llm"
    out = sample / "llm-data"
    assert main(["--quiet", "prepare", "items", "--topics", str(llm / "topics.tsv"), "--qrels", str(llm / "qrels.txt"),
                 "--folds", "3", "-o", str(out)]) == 0
    return out


def test_train_and_cross_validate_take_the_commands_jobs(llm_data, cli, tmp_path):
    """llmrank.cross_validate by keywords and by an ItemCvJob: the report and out-of-fold run that
    `llmrank cv` writes; llmrank.train returns the directory `llmrank train` fills, with the same
    held-out scores; a fold the data lacks, a ranker with no cv, a stray keyword and a missing data
    directory are one LlmrankError each, with nothing written."""
    flags = ["--data", str(llm_data), "--epochs", "2"]
    assert cli("--quiet", "cv", "two-tower-tier1", *flags, "-o", str(tmp_path / "cli-cv")).code == 0
    by_keywords = llmrank.cross_validate("two-tower-tier1", data=str(llm_data), output=str(tmp_path / "kw"), epochs=2)
    job = llmrank.ItemCvJob(data=str(llm_data), output=str(tmp_path / "job"))
    by_job = llmrank.cross_validate("two-tower-tier1", job, epochs=2)
    on_disk = json.loads((tmp_path / "cli-cv" / "two-tower-tier1.cv.json").read_text())
    assert by_keywords["measures"] == by_job["measures"] == on_disk["measures"] and on_disk["folds"] == 3
    assert _rows(tmp_path / "kw" / "two-tower-tier1.run") == _rows(tmp_path / "cli-cv" / "two-tower-tier1.run")

    assert cli("--quiet", "train", "two-tower-tier1", *flags, "--fold", "1", "-o", str(tmp_path / "cli-m")).code == 0
    model = llmrank.train("two-tower-tier1", data=str(llm_data), fold=1, output=str(tmp_path / "api-m"), epochs=2)
    assert model == tmp_path / "api-m"
    assert (model / "epochs.csv").read_text() == (tmp_path / "cli-m" / "epochs.csv").read_text()

    for call, problem in [
            (lambda: llmrank.train("two-tower-tier1", data=str(llm_data), fold=3, output=str(tmp_path / "x")),
             "--fold 3: " + str(llm_data) + " has folds 0 to 2"),
            (lambda: llmrank.cross_validate("routehead", data=str(llm_data), output=str(tmp_path / "x")),
             "routehead has no cross-validation"),
            (lambda: llmrank.cross_validate("prior", data=str(llm_data), output=str(tmp_path / "x"), window=3),
             "'window' is neither a field of ItemCvJob nor a setting of prior"),
            (lambda: llmrank.cross_validate("prior", data=str(tmp_path / "none"), output=str(tmp_path / "x")),
             "none: no such file (--data)")]:
        with pytest.raises(llmrank.LlmrankError, match=re.escape(problem)):
            call()
        assert not (tmp_path / "x").exists()
