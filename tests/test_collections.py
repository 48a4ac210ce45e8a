"""Corpora, topics and old relevance formats: written samples and the shared collections."""
import json
from pathlib import Path

import pytest

from llmrank_cli.formats import read_qrels, read_topics
from llmrank_cli.formats.corpus import iter_documents
from llmrank_cli.formats.qrels import read_any_qrels

from .conftest import shared

SAMPLES = {
    "c.jsonl": '{"_id": "a", "title": "T", "text": "x y"}\n{"docid": 7, "contents": "z"}\n',
    "c.tsv": "a\tT x y\n7\tz\n",
    "c.trec": "<DOC>\n<DOCNO> a </DOCNO>\n<TITLE>T</TITLE>\n<TEXT>\nx\ny\n</TEXT>\n</DOC>\n"
              "<DOC>\n<DOCNO>7</DOCNO>\nz\n</DOC>\n",
    "c.smart": ".I a\n.T\nT\n.A\nsomeone\n.W\nx\ny\n.I 7\n.W\nz\n",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_corpus_formats(write, name):
    assert list(iter_documents(write(name, SAMPLES[name]))) == [("a", "T x y"), ("7", "z")]


def test_prepare_corpus_cli_writes_json_collection(cli, write, tmp_path):
    out = tmp_path / "corpus.jsonl"
    assert cli("prepare", "corpus", write("c.trec", SAMPLES["c.trec"]), write("d.tsv", "b\tw\n"), "-o", out).code == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"id": "a", "contents": "T x y"}, {"id": "7", "contents": "z"}, {"id": "b", "contents": "w"}]
    r = cli("prepare", "corpus", write("e.tsv", "a\tx\na\ty\n"), "-o", out)
    assert r.code == 2 and "document id a appears more than once" in r.err
    assert cli("prepare", "corpus", "irds:msmarco-passage", "-o", out).code == 2


@pytest.mark.slow
@pytest.mark.parametrize("collection, corpus, n_docs, topics, n_topics, kw", [
    ("vaswani", "doc-text.trec", 11429, "query-text.trec", 93, {}),
    ("cranfield", "cran.all.1400", 1400, "cran.qry", 225, {"number_by_position": True}),
    ("cisi", "CISI.ALL", 1460, "CISI.QRY", 112, {}),
])
def test_shared_collections_parse(collection, corpus, n_docs, topics, n_topics, kw):
    d = shared("collections", collection)
    ids = [docid for docid, _ in iter_documents(d / corpus)]
    assert len(ids) == len(set(ids)) == n_docs
    assert [t.qid for t in read_topics(d / topics, **kw)] == [str(i) for i in range(1, n_topics + 1)] \
        or collection == "vaswani" and len(read_topics(d / topics)) == n_topics


@pytest.mark.slow
def test_old_relevance_formats():
    d = shared("collections")
    cran = read_any_qrels(d / "cranfield" / "cranqrel")
    reference = read_qrels(d / "cranfield" / "QRelsCorrectedforTRECeval")
    rows = lambda q: set(zip(*(q.table[c].to_pylist() for c in ("qid", "docno", "rel"))))  # noqa: E731
    assert rows(cran) == rows(reference)
    cisi = read_any_qrels(d / "cisi" / "CISI.REL")
    assert len(cisi.qids()) == 76 and set(cisi.table["rel"].to_pylist()) == {1}
    # cran.qry's .I ids skip numbers: the qrels only line up when topics are numbered by position
    ids = [t.qid for t in read_topics(d / "cranfield" / "cran.qry")]
    assert ids[:3] == ["001", "002", "004"]


@pytest.mark.slow
@pytest.mark.parametrize("collection,source", [("vaswani", "qrels"), ("cranfield", "cranqrel"), ("cisi", "CISI.REL")])
def test_committed_qrels_are_what_prepare_writes(collection, source, cli, tmp_path):
    """qrels/ holds the classic collections' qrels as `prepare qrels` writes them
    (commands/classic-collections.sh): the converter still writes the same bytes."""
    out = tmp_path / f"{collection}.qrels"
    assert cli("--quiet", "prepare", "qrels", shared("collections", collection, source), "-o", out).code == 0
    committed = Path(__file__).resolve().parents[1] / "qrels" / f"{collection}.qrels"
    assert out.read_bytes() == committed.read_bytes()
