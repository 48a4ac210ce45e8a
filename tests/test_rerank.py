"""rerank: ordering, depth, resume, shards/merge and atomic output on a tiny random-weight
cross-encoder; the real packaged all-MiniLM-L6-v2 on DL19 queries."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from llmrank_cli.formats import read_run  # noqa: E402

from .conftest import shared  # noqa: E402

TOPICS = "q1\thow do vaccines work\nq2\twhat causes tides\nq3\twhy is the sky blue\n"
CORPUS = "".join(f'{{"id": "d{i}", "contents": "passage number {i} about {w} and more words {i * 7}"}}\n'
                 for i, w in enumerate(["vaccines", "tides", "sky", "immune", "moon", "light", "cells", "sea",
                                        "blue", "antibodies", "gravity", "scatter"]))
RUN = "".join(f"{q} Q0 d{d} {r + 1} {10 - r} bm25\n" for q, docs in
              (("q1", [0, 3, 6, 9, 1, 2]), ("q2", [1, 4, 7, 10, 0]), ("q3", [2, 5, 8, 11, 3, 4, 6])) for r, d in
              enumerate(docs))


@pytest.fixture
def job(write):
    return {"run": write("c.run", RUN), "topics": write("t.tsv", TOPICS), "corpus": write("c.jsonl", CORPUS)}


def rerank(cli, job, model, out, *extra):
    return cli("--quiet", "rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"],
               "--model", model, "-o", out, *extra)


def test_scores_equal_crossencoder_predict_and_order(cli, job, tiny_cross_encoder, tmp_path):
    from sentence_transformers import CrossEncoder
    out = tmp_path / "out.run"
    assert rerank(cli, job, tiny_cross_encoder, out, "--depth", "100", "--batch-size", "3").code == 0
    rows = [line.split() for line in out.read_text().splitlines()]
    ce = CrossEncoder(tiny_cross_encoder)
    topics = dict(line.split("\t") for line in TOPICS.splitlines())
    texts = {f"d{i}": line.split('"contents": "')[1].rstrip('"}') for i, line in enumerate(CORPUS.splitlines())}
    expected = ce.predict([(topics[r[0]], texts[r[2]]) for r in rows])
    assert np.allclose([float(r[4]) for r in rows], expected, atol=1e-5)
    for q in ("q1", "q2", "q3"):
        scores = [float(r[4]) for r in rows if r[0] == q]
        assert scores == sorted(scores, reverse=True)
        assert [int(r[3]) for r in rows if r[0] == q] == list(range(1, len(scores) + 1))
    assert (tmp_path / "out.run.manifest.json").exists()


def test_depth_keeps_the_tail_in_order(cli, job, tiny_cross_encoder, tmp_path):
    out = tmp_path / "out.run"
    assert rerank(cli, job, tiny_cross_encoder, out, "--depth", "2").code == 0
    got = read_run(out).output_order()
    q3 = [d for q, d in zip(got["qid"].to_pylist(), got["docno"].to_pylist()) if q == "q3"]
    assert sorted(q3[:2]) == ["d2", "d5"] and q3[2:] == ["d8", "d11", "d3", "d4", "d6"]


def test_queries_in_any_order_keep_their_own_candidates(cli, job, tiny_cross_encoder, tmp_path, write):
    """Queries whose ids are not in sorted order (as in TREC DL runs) rescore their own top-k."""
    lines = RUN.splitlines(True)
    shuffled = write("s.run", "".join(ln for q in ("q3", "q1", "q2") for ln in lines if ln.startswith(q + " ")))
    out = tmp_path / "out.run"
    assert rerank(cli, dict(job, run=shuffled), tiny_cross_encoder, out, "--depth", "2").code == 0
    got = [line.split() for line in out.read_text().splitlines()]
    assert [r[0] for r in got] == ["q3"] * 7 + ["q1"] * 6 + ["q2"] * 5  # input query order, every candidate
    for q, tail in (("q3", ["d8", "d11", "d3", "d4", "d6"]), ("q1", ["d6", "d9", "d1", "d2"]), ("q2", ["d7", "d10", "d0"])):
        assert [r[2] for r in got if r[0] == q][2:] == tail


def test_resume_scores_only_unfinished_queries(cli, job, tiny_cross_encoder, tmp_path, monkeypatch):
    from llmrank_cli.rankers.cross_encoder import CrossEncoderRanker
    full = tmp_path / "full.run"
    assert rerank(cli, job, tiny_cross_encoder, full).code == 0
    out = tmp_path / "out.run"
    out.write_text("previous result\n")
    real_score, calls = CrossEncoderRanker.score_pairs, []

    def failing(self, queries, passages):
        calls.append(queries[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while scoring the second query
        return real_score(self, queries, passages)

    monkeypatch.setattr(CrossEncoderRanker, "score_pairs", failing)
    one_query_per_chunk = ("--chunk-pairs", "1")
    assert rerank(cli, job, tiny_cross_encoder, out, *one_query_per_chunk).code == 130  # Ctrl-C: "aborted"
    assert out.read_text() == "previous result\n"  # nothing clobbered
    assert (tmp_path / "out.run.partial.done").read_text() == "q1\n"
    assert rerank(cli, job, tiny_cross_encoder, out, *one_query_per_chunk).code == 2  # refuses without --resume
    r = rerank(cli, job, tiny_cross_encoder, out, "--resume")  # other chunks than the interrupted job's
    assert r.code == 2 and "same settings" in r.err
    calls.clear()
    monkeypatch.setattr(CrossEncoderRanker, "score_pairs",
                        lambda self, q, p: (calls.append(q[0]), real_score(self, q, p))[1])
    with open(tmp_path / "out.run.partial") as held:  # another llmrank process writing the same output
        import fcntl
        fcntl.flock(held, fcntl.LOCK_EX)
        for resume in (["--resume"], []):  # not advised to --resume a job that is running
            r = rerank(cli, job, tiny_cross_encoder, out, *resume, *one_query_per_chunk)
            assert r.code == 2 and "being written by another llmrank process" in r.err and r.err.count("\n") == 1
    assert (tmp_path / "out.run.partial.done").read_text() == "q1\n" and not calls  # untouched, nothing scored
    assert rerank(cli, job, tiny_cross_encoder, out, "--resume", *one_query_per_chunk).code == 0
    assert calls == ["what causes tides", "why is the sky blue"]
    assert out.read_text() == full.read_text()
    assert not (tmp_path / "out.run.partial").exists()


def test_shards_merge_to_the_full_run(cli, job, tiny_cross_encoder, tmp_path):
    """Same chunks, same batches, same bytes: shards are chunks of queries, not queries."""
    full, a, b, merged = (tmp_path / n for n in ("full.run", "a.run", "b.run", "m.run"))
    assert rerank(cli, job, tiny_cross_encoder, full, "--chunk-pairs", "1").code == 0
    assert rerank(cli, job, tiny_cross_encoder, a, "--shard", "1/2", "--chunk-pairs", "1").code == 0
    assert rerank(cli, job, tiny_cross_encoder, b, "--shard", "2/2", "--chunk-pairs", "1").code == 0
    assert {line.split()[0] for line in a.read_text().splitlines()} == {"q1", "q3"}
    assert cli("merge", a, b, "--topics", job["topics"], "-o", merged).code == 0
    assert merged.read_text() == full.read_text()
    r = rerank(cli, job, tiny_cross_encoder, tmp_path / "c.run", "--shard", "2/2")  # 18 pairs: one chunk
    assert r.code == 2 and "only 1 chunks" in r.err
    r = cli("merge", a, a, "-o", merged)
    assert r.code == 2 and "shards overlap" in r.err
    assert cli("merge", a, "--topics", job["topics"], "-o", merged).code == 2


def test_missing_passage_and_offline_model_are_one_line_errors(cli, job, tiny_cross_encoder, tmp_path, write,
                                                               monkeypatch):
    job = dict(job, corpus=write("small.jsonl", CORPUS.splitlines()[0] + "\n"))
    r = rerank(cli, job, tiny_cross_encoder, tmp_path / "x.run")
    assert r.code == 2 and "candidate passages are not in the corpus" in r.err
    r = rerank(cli, dict(job, corpus=str(tmp_path / "absent.jsonl")), tiny_cross_encoder, tmp_path / "x.run")
    assert r.code == 2 and "absent.jsonl" in r.err and r.err.count("\n") == 1
    assert list(tmp_path.glob("x.run*")) == []  # nothing left behind: no output, no partials
    # an interrupted job's partial survives a resumed attempt that fails on its inputs
    (tmp_path / "y.run.partial").write_text("q1 Q0 d0 0 1.0 bm25\n")
    (tmp_path / "y.run.partial.done").write_text("q1\n")
    assert rerank(cli, job, tiny_cross_encoder, tmp_path / "y.run", "--resume").code == 2
    assert (tmp_path / "y.run.partial").read_text() == "q1 Q0 d0 0 1.0 bm25\n"
    assert (tmp_path / "y.run.partial.done").read_text() == "q1\n"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = rerank(cli, job, "no-such-org/no-such-model", tmp_path / "x.run")
    assert r.code == 2 and r.err.count("\n") == 1 and "cannot load model 'no-such-org/no-such-model'" in r.err


@pytest.mark.slow
def test_packaged_minilm_bi_encoder_beats_bm25_on_dl19(cli, tmp_path):
    """The README's DL19 bi-encoder row, re-run on its first chunk (6 queries, 600 pairs): the
    same order as runs/dl19-minilm-bi.run with the same scores (to 1e-6: that run was made with
    transformers 5.23, and 5.24 moves MiniLM's embeddings in the 9th digit), and beats BM25."""
    d = shared("trec-dl", "dl19")
    lines = (d / "bm25-top100.run").read_text().splitlines()
    qids = list(dict.fromkeys(line.split()[0] for line in lines))[:6]
    small = tmp_path / "bm25.run"
    small.write_text("".join(line + "\n" for line in lines if line.split()[0] in qids))
    out = tmp_path / "bi.run"
    r = cli("--quiet", "rerank", "--run", small, "--topics", d / "topics.tsv", "--corpus", d / "passages.jsonl",
            "--model", "all-MiniLM-L6-v2", "--kind", "bi", "--tag", "minilm-bi", "-o", out)
    assert r.code == 0
    committed = Path(__file__).resolve().parents[1] / "runs" / "dl19-minilm-bi.run"
    ours = [line.split() for line in out.read_text().splitlines()]
    theirs = [line.split() for line in committed.read_text().splitlines() if line.split()[0] in qids]
    assert [r[:4] + r[5:] for r in ours] == [r[:4] + r[5:] for r in theirs]
    assert np.allclose([float(r[4]) for r in ours], [float(r[4]) for r in theirs], rtol=0, atol=1e-6)
    import json
    res = json.loads(cli("eval", d / "qrels.txt", small, out, "-m", "nDCG@10", "--format", "json").out)
    bm25, bi = (x["aggregate"]["nDCG@10"] for x in res["runs"])
    assert bi > bm25 + 0.05


def test_a_damaged_embedding_cache_entry_is_computed_again(tmp_path, monkeypatch):
    """Cache entries are written whole (temporary file, fsync, rename); one damaged anyway (a disk
    error, a copy cut short) is detected and rebuilt, with a note, never read as vectors."""
    from llmrank_cli.kit.encoders import cached_embeddings

    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path))
    texts = ["how do vaccines work", "what causes tides"]
    first = cached_embeddings(texts, "all-MiniLM-L6-v2")
    [entry] = (tmp_path / "embeddings").iterdir()
    entry.write_bytes(entry.read_bytes()[:100])  # cut short
    with pytest.warns(UserWarning, match="damaged cache entry"):
        again = cached_embeddings(texts, "all-MiniLM-L6-v2")
    assert np.array_equal(again, first) and np.array_equal(np.load(entry), first)


def test_truncated_pairs_read_from_the_fast_tokenizer_equal_a_full_tokenization(tiny_cross_encoder):
    from transformers import AutoTokenizer

    from llmrank_cli.kit.batching import truncated

    tok = AutoTokenizer.from_pretrained(tiny_cross_encoder)
    texts = [line.split('"contents": "')[1].rstrip('"}') for line in CORPUS.splitlines()]
    queries = ["how do vaccines work " * n for n in range(1, len(texts) + 1)]  # some cut in the query too
    for limit in (8, 14, 20, 64):
        enc = tok(queries, texts, truncation=True, max_length=limit)
        full = [len(ids) > limit for ids in tok(queries, texts)["input_ids"]]
        assert 0 < sum(full) or limit == 64
        assert truncated(tok, enc, limit, queries, texts) == sum(full)
        assert truncated(tok, dict(enc), limit, queries, texts) == sum(full)  # a slow tokenizer's output
