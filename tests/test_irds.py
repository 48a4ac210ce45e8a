"""``irds:ID`` wherever topics, qrels or a corpus are read, through ir_datasets' own code. Offline
here, so the datasets are registered from the shared TREC DL 2019 files (the real ids, e.g.
``irds:msmarco-passage/trec-dl-2019/judged``, download on first use); the pipeline on the ids
gives what it gives on the files, byte for byte."""
import sys

import pytest

from llmrank_cli.formats import read_qrels, read_topics
from llmrank_cli.formats.corpus import read_passages
from tests.conftest import shared

DL19 = "irds:llmrank-test/dl19"


@pytest.fixture(scope="module")
def dl19(tmp_path_factory):
    """The shared DL19 files registered as ir_datasets datasets: with and without qrels."""
    import ir_datasets
    from ir_datasets.formats import JsonlDocs, TrecQrels, TsvQueries
    from ir_datasets.util import LocalDownload

    d = shared("trec-dl", "dl19")
    store = tmp_path_factory.mktemp("irds")
    docs = JsonlDocs(LocalDownload(d / "passages.jsonl"), mapping={"doc_id": "id", "text": "contents"},
                     docstore_path=str(store / "docstore"))
    queries = TsvQueries(LocalDownload(d / "topics.tsv"))
    if "llmrank-test/dl19" not in ir_datasets.registry:
        ir_datasets.registry.register("llmrank-test/dl19", ir_datasets.Dataset(
            docs, queries, TrecQrels(LocalDownload(d / "qrels.txt"), {i: str(i) for i in range(4)})))
        ir_datasets.registry.register("llmrank-test/dl19-unjudged", ir_datasets.Dataset(docs, queries))
    return d


def test_ids_read_as_the_files(dl19):
    assert read_topics(DL19) == read_topics(dl19 / "topics.tsv")
    assert read_qrels(DL19).table.equals(read_qrels(dl19 / "qrels.txt").table)
    wanted = {"1002627", "8726437"}
    assert read_passages(DL19, wanted) == read_passages(dl19 / "passages.jsonl", wanted)


def test_prepare_rank_rerank_eval_on_ids_equal_the_files(cli, dl19, tmp_path):
    """prepare index -> rank bm25 -> rerank (bi-encoder, candidates' texts from the docstore) ->
    eval: the same runs and numbers as from the files."""
    out = {}
    for name, topics, qrels, corpus in (("ids", DL19, DL19, DL19),
                                        ("files", dl19 / "topics.tsv", dl19 / "qrels.txt", dl19 / "passages.jsonl")):
        d = tmp_path / name
        assert cli("--quiet", "prepare", "index", corpus, "-o", d / "index").code == 0
        assert cli("--quiet", "rank", "--model", "bm25", "--index", d / "index", "--topics", topics,
                   "-o", d / "bm25.run").code == 0
        assert cli("--quiet", "rerank", "--run", d / "bm25.run", "--topics", topics, "--corpus", corpus,
                   "--model", "all-MiniLM-L6-v2", "--kind", "bi", "--depth", "10", "-o", d / "bi.run").code == 0
        r = cli("eval", qrels, d / "bm25.run", d / "bi.run", "-m", "nDCG@10", "--format", "trec")
        assert r.code == 0, r.err
        out[name] = [(d / f).read_text() for f in ("bm25.run", "bi.run")] + [r.out.replace(str(d), "")]
    assert out["ids"] == out["files"]
    assert len({line.split()[0] for line in out["ids"][0].splitlines()}) == 43 and out["ids"][1] != out["ids"][0]


@pytest.mark.parametrize("args, problem", [
    (["eval", "irds:no/such-dataset", "RUN"], "irds:no/such-dataset: no such ir_datasets id"),
    (["eval", "irds:llmrank-test/dl19-unjudged", "RUN"], "irds:llmrank-test/dl19-unjudged: this dataset has no qrels"),
    (["prepare", "topics", "irds:llmrank-test/dl19", "--field", "narr", "-o", "OUT"], "its queries have no narr"),
])
def test_what_a_dataset_cannot_give_is_one_line(cli, dl19, tmp_path, args, problem):
    run = tmp_path / "a.run"
    run.write_text("19335 Q0 1017759 1 1.0 a\n")
    r = cli(*[{"RUN": run, "OUT": tmp_path / "t.tsv"}.get(a, a) for a in args])
    assert r.code == 2 and problem in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not (tmp_path / "t.tsv").exists()


def test_without_the_extra_an_id_is_one_line_naming_it(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)
    run = tmp_path / "a.run"
    run.write_text("1 Q0 d 1 1.0 a\n")
    r = cli("eval", DL19, run)
    assert r.code == 2 and "pip install 'llmrank[irds]'" in r.err and len(r.err.strip().splitlines()) == 1
