"""The Million LLMs rankers that read the labelled neighbourhood: knn and the LambdaRank stack
(ltr), their features, streamed discovery/metadata files, per-category results."""
import json
from pathlib import Path

import numpy as np
import pytest

from llmrank_cli import rankers
from llmrank_cli.datasets import ItemData, item_features, neighbours
from llmrank_cli.datasets.discovery import FEATURES, read_discovery, response_features, substantive


def _data(gains, embeddings, categories=None, path=Path(".")) -> ItemData:
    n, items = gains.shape
    return ItemData(path, [f"q{i}" for i in range(n)], [f"query {i}" for i in range(n)],
                    [f"llm{j}" for j in range(items)], gains.astype(np.float32), embeddings.astype(np.float32),
                    np.arange(n) % 5, {"encoder": "none", "gains": {"0": 0.0, "1": 1.0}, "folds": 5},
                    categories=categories)


def _unit(rng, n, dim=8):
    e = rng.normal(size=(n, dim))
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_knn_with_every_neighbour_and_no_shrinkage_is_the_similarity_weighted_prior():
    rng = np.random.default_rng(0)
    data = _data((rng.random((40, 6)) < 0.5).astype(float), _unit(rng, 40))
    train, test = np.arange(30), np.arange(30, 40)
    knn = rankers.create("knn", k=0, shrink=0.0, temperature=0.3).fit(data, train)
    w = np.exp((data.embeddings[test] @ data.embeddings[train].T - 1) / 0.3)
    expected = (w @ data.gains[train]) / w.sum(axis=1, keepdims=True)
    assert np.allclose(knn.held_out_scores(data, test), expected, atol=1e-6)
    prior = data.gains[train].mean(axis=0)
    for settings in ({"k": 5, "shrink": 1e12}, {"k": 0, "shrink": 0.0, "temperature": 1e9}):
        scores = rankers.create("knn", **settings).fit(data, train).held_out_scores(data, test)
        assert np.allclose(scores, np.broadcast_to(prior, scores.shape), atol=1e-6)


def test_knn_follows_the_nearest_queries():
    # two clusters of queries; LLM 0 is right on the first, LLM 1 on the second
    rng = np.random.default_rng(1)
    centre = np.eye(8)[:2]
    cluster = np.arange(60) % 2
    emb = centre[cluster] + 0.05 * rng.normal(size=(60, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    gains = np.stack([cluster == 0, cluster == 1], axis=1).astype(float)
    data = _data(gains, emb)
    scores = rankers.create("knn", k=10).fit(data, np.arange(50)).held_out_scores(data, np.arange(50, 60))
    assert (np.argmax(scores, axis=1) == cluster[50:]).all()


def test_knn_runs_on_discovery_answers_alone(tmp_path):
    # no label says anything (all gains equal); discovery answers decide
    rng = np.random.default_rng(2)
    emb = _unit(rng, 20)
    data = _data(np.zeros((20, 3)), emb, path=tmp_path)
    flags = np.zeros((20, 3), dtype=np.float32)
    flags[:, 2] = 1.0
    np.savez(tmp_path / "discovery.npz", qids=np.arange(20).astype(str), flags=flags, embeddings=emb)
    scores = rankers.create("knn", discovery_weight=1.0).fit(data, np.arange(15)).held_out_scores(data, np.arange(15, 20))
    assert (np.argmax(scores, axis=1) == 2).all()
    with pytest.raises(Exception, match="discovery data"):
        rankers.create("knn", discovery_weight=1.0).fit(_data(np.zeros((20, 3)), emb, path=tmp_path / "none"),
                                                        np.arange(15))


def test_nearest_orders_by_similarity_and_breaks_ties_by_row():
    pool = np.array([[1, 0], [0, 1], [1, 0], [0.6, 0.8]], dtype=np.float32)
    idx, sims = neighbours.nearest(np.array([[1, 0]], dtype=np.float32), pool, 3)
    assert idx.tolist() == [[0, 2, 3]] and np.allclose(sims, [[1, 1, 0.6]])


def test_lambdarank_learns_the_feature_that_decides_the_order():
    pytest.importorskip("lightgbm")
    # the best LLM of a query is the one its category's members get right: only category_prior knows
    rng = np.random.default_rng(3)
    n, items = 400, 6
    categories = np.array([f"c{i % 3}" for i in range(n)])
    best = {"c0": 0, "c1": 3, "c2": 5}
    gains = np.zeros((n, items))
    for i, c in enumerate(categories):
        gains[i, best[c]] = 1.0
    data = _data(gains, _unit(rng, n), categories)
    train, test = np.arange(300), np.arange(300, 400)
    ltr = rankers.create("ltr", trees=50, min_leaf=5, drop="knn,linear,query").fit(data, train)
    top = np.argmax(ltr.held_out_scores(data, test), axis=1)
    assert (top == np.array([best[c] for c in categories[test]])).all()
    importance = ltr.importances()
    assert max(importance, key=importance.get) == "category_prior"


def test_stacked_and_feature_models_never_see_the_label_they_score(monkeypatch):
    """By construction: every fit a stacked ranker makes inside ltr, and every pool features are
    computed from, excludes the queries scored with it."""
    pytest.importorskip("lightgbm")
    rng = np.random.default_rng(4)
    data = _data((rng.random((50, 4)) < 0.5).astype(float), _unit(rng, 50))
    fits, pools = [], []
    real_fit, real_features = rankers.get("prior").fit, item_features.features

    def recording_fit(self, d, train, seed=0, progress=None):
        fits.append(set(train.tolist()))
        model = real_fit(self, d, train, seed, progress)
        real_held = model.held_out_scores
        model.held_out_scores = lambda d2, idx: (fits.append(("scored", set(idx.tolist()), set(train.tolist()))),
                                                 real_held(d2, idx))[1]
        return model

    def recording_features(pool, embeddings, *args, **kwargs):
        pools.append((pool.embeddings, embeddings))
        return real_features(pool, embeddings, *args, **kwargs)

    monkeypatch.setattr(rankers.get("prior"), "fit", recording_fit)
    monkeypatch.setattr(item_features, "features", recording_features)
    train, test = np.arange(40), np.arange(40, 50)
    ltr = rankers.create("ltr", stack="prior", trees=5, min_leaf=5, inner_folds=4).fit(data, train)
    ltr.held_out_scores(data, test)
    scored = [f for f in fits if isinstance(f, tuple)]
    assert len(scored) == 5  # four inner folds, then the test queries
    for _, queries, trained_on in scored:
        assert not queries & trained_on
    for pool, queries in pools:
        assert not {r.tobytes() for r in pool} & {r.tobytes() for r in queries}


def test_ltr_refuses_fractional_training_gains():
    pytest.importorskip("lightgbm")
    rng = np.random.default_rng(5)
    data = _data(rng.random((30, 3)), _unit(rng, 30))
    with pytest.raises(Exception, match="graded labels"):
        rankers.create("ltr").fit(data, np.arange(25))


def test_refusal_detector():
    for text in ("I don't know", "i do not know.", "I'm sorry, but I can't help with that request.",
                 "As an AI, I cannot browse the web for you.", "I am unable to answer this question reliably", "ok"):
        assert not substantive(text), text
    for text in ("The derivative of x^3 sin x is 3x^2 sin x + x^3 cos x.", "Paris is the capital of France, "
                 "as it has been since 508 AD.", "Knowing when to stop: I don't know of any faster method than this one."):
        assert substantive(text), text


def _discovery_files(tmp_path, llms=("a", "b", "c"), queries=6, metadata_llms=None):
    rng = np.random.default_rng(6)
    disc, meta = {}, {}
    for i in range(queries):
        answers = {llm: ("I don't know" if rng.random() < 0.5 else f"an answer of {llm} to {i}: " + "x" * i)
                   for llm in llms}
        disc[f"d{i}"] = {"query": f"question {i}", "responses": answers}
        meta[f"d{i}"] = {"query": f"question {i}", "responses": {
            llm: {"response": answers.get(llm, "I don't know"), "logprobs": (-rng.random(3 + i)).round(3).tolist()}
            for llm in (metadata_llms or llms)}}
    (tmp_path / "disc.json").write_text(json.dumps(disc))
    (tmp_path / "meta.json").write_text(json.dumps(meta, indent=1))
    return tmp_path / "disc.json", tmp_path / "meta.json", meta


def test_streamed_metadata_equals_reading_the_whole_file(tmp_path):
    disc, meta_path, meta = _discovery_files(tmp_path)
    found = read_discovery([str(disc)], ["a", "b", "c", "z"], [str(meta_path)])
    whole = json.loads(meta_path.read_text())  # the whole-file reader
    for row, qid in enumerate(found.qids):
        for col, llm in enumerate(["a", "b", "c"]):
            r = whole[qid]["responses"][llm]
            assert np.allclose(found.values[row, col], response_features(r["response"], r["logprobs"]), equal_nan=True)
    assert np.isnan(found.values[:, 3]).all()  # z answered nothing
    assert found.values.shape == (6, 4, len(FEATURES))


def _prepare(cli, tmp_path, disc, meta=None, extra=()):
    topics = tmp_path / "dev.tsv"
    topics.write_text("".join(f"t{i}\tquestion {i} about topic\n" for i in range(10)))
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"t{i} 0 {llm} {int(j == i % 3)}\n" for i in range(10) for j, llm in enumerate("abc")))
    out = tmp_path / "data"
    args = ["--quiet", "prepare", "mllm", "--queries", topics, "--qrels", qrels, "--discovery", disc, "--folds", "2",
            "-o", out, *extra]
    return cli(*args, *(["--metadata", meta] if meta else [])), out


def test_prepare_mllm_refuses_bad_discovery_files_writing_nothing(cli, tmp_path):
    disc, _, _ = _discovery_files(tmp_path)
    (tmp_path / "w").mkdir()
    _, wrong, _ = _discovery_files(tmp_path / "w", metadata_llms=("a", "q"))
    truncated = tmp_path / "truncated.json"
    truncated.write_text(disc.read_text()[:-40])
    cats = tmp_path / "cats.tsv"
    cats.write_text("t0\tmaths\nt1\tpoems\n")
    for case, (d, m, extra, message) in {
            "metadata LLMs": (disc, wrong, (), "LLM 'q' has no response"),
            "truncated": (truncated, None, (), "invalid or truncated JSON"),
            "categories": (disc, None, ("--categories", cats), "no category for 8 of the 10 queries")}.items():
        r, out = _prepare(cli, tmp_path, d, m, extra)
        assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1, case
        assert "Traceback" not in r.err and not out.exists(), case


def test_prepare_mllm_keeps_response_features_and_cv_ltr_reads_them(cli, tmp_path):
    pytest.importorskip("lightgbm")
    disc, meta, _ = _discovery_files(tmp_path)
    r, out = _prepare(cli, tmp_path, disc, meta)
    assert r.code == 0, r.err
    stored = np.load(out / "discovery.npz")
    assert stored["features"].shape == (6, 3, len(FEATURES)) and not np.isnan(stored["features"][:, :, 3]).any()
    assert cli("--quiet", "cv", "ltr", "--data", out, "--min-leaf", "2", "--inner-folds", "2", "-o",
               tmp_path / "cv").code == 0
    features = json.loads((tmp_path / "cv" / "ltr.cv.json").read_text())["report"]
    assert "importance.mean_logprob_knn" in features and "importance.substantive_mean" in features


def test_cv_ltr_on_the_embedded_sample_end_to_end(cli, llm_sample, tmp_path):
    pytest.importorskip("lightgbm")
    cats = tmp_path / "cats.tsv"
    topics = llm_sample / "s" / "llm" / "topics.tsv"
    cats.write_text("".join(f"{line.split()[0]}\t{line.split('-')[0]}\n" for line in topics.read_text().splitlines()))
    data = tmp_path / "data"
    assert cli("--quiet", "prepare", "items", "--topics", topics, "--qrels", llm_sample / "s" / "llm" / "qrels.txt",
               "--responses", llm_sample / "s" / "llm" / "responses.jsonl", "--categories", cats, "--folds", "5",
               "-o", data).code == 0
    r = cli("cv", "ltr", "--data", data, "--min-leaf", "5", "-o", tmp_path / "cv")
    assert r.code == 0 and "per category" in r.out
    result = json.loads((tmp_path / "cv" / "ltr.cv.json").read_text())
    assert set(result["by_category"]) == {line.split("\t")[1] for line in cats.read_text().splitlines()}
    assert sum(v["queries"] for v in result["by_category"].values()) == 30
    assert 0 < result["measures"]["nDCG@10"]["mean"] <= 1
    assert abs(sum(v for k, v in result["report"].items() if k.startswith("importance.")) - 1) < 1e-6
    model = tmp_path / "model"
    assert cli("--quiet", "train", "ltr", "--data", data, "--all", "--min-leaf", "5", "-o", model).code == 0
    sub = tmp_path / "sub.csv"
    assert cli("--quiet", "rank", "--model", model, "--topics", topics, "--format", "mllm", "--team-id", "t",
               "-o", sub).code == 0
    assert len(sub.read_text().splitlines()) == 1 + 30 * 12


def test_eval_by_category_equals_eval_of_each_category_alone(cli, tmp_path):
    rng = np.random.default_rng(7)
    qrels = "".join(f"q{i} 0 d{j} {int(rng.random() < 0.3)}\n" for i in range(12) for j in range(8))
    runs = ["".join(f"q{i} Q0 d{j} {j + 1} {rng.random():.6f} r{k}\n" for i in range(12) for j in range(8))
            for k in range(2)]
    cats = {f"q{i}": ("odd" if i % 2 else "even") for i in range(12)}
    for name, text in (("qrels", qrels), ("a.run", runs[0]), ("b.run", runs[1]),
                       ("cats.tsv", "".join(f"{q}\t{c}\n" for q, c in cats.items()))):
        (tmp_path / name).write_text(text)
    r = cli("eval", tmp_path / "qrels", tmp_path / "a.run", tmp_path / "b.run", "--baseline", tmp_path / "a.run",
            "-m", "nDCG@10", "--by", tmp_path / "cats.tsv", "--format", "csv")
    assert r.code == 0
    rows = {line.split(",")[0]: line.split(",")[3] for line in r.out.split("\n\n")[0].splitlines()[1:]}
    for c in ("odd", "even"):
        for run in ("a.run", "b.run"):
            keep = lambda text: "".join(l + "\n" for l in text.splitlines() if cats[l.split()[0]] == c)  # noqa: E731
            (tmp_path / f"{c}-{run}").write_text(keep((tmp_path / run).read_text()))
            alone = cli("eval", tmp_path / "qrels", tmp_path / f"{c}-{run}", "-m", "nDCG@10", "--format", "csv").out
            assert rows[f"{tmp_path / run} @ {c}"] == alone.splitlines()[1].split(",")[3]
    tests = r.out.split("\n\n")[1].splitlines()[1:]
    assert [t.split(",")[0] for t in tests] == [f"{tmp_path / 'b.run'}", f"{tmp_path / 'b.run'} @ even",
                                                f"{tmp_path / 'b.run'} @ odd"]
    (tmp_path / "few.tsv").write_text("q0\teven\n")
    r = cli("eval", tmp_path / "qrels", tmp_path / "a.run", "--by", tmp_path / "few.tsv")
    assert r.code == 2 and "no category for 11 of the 12 queries" in r.err


def test_ltr_falls_back_to_the_prior_when_its_held_out_fold_prefers_the_prior():
    pytest.importorskip("lightgbm")
    # labels are noise around a fixed order: nothing but the prior can be learned
    rng = np.random.default_rng(8)
    gains = (rng.random((80, 8)) < np.linspace(0.2, 0.8, 8)).astype(float)
    data = _data(gains, _unit(rng, 80))
    ltr = rankers.create("ltr", min_leaf=2, leaves=31).fit(data, np.arange(60))
    assert ltr.fallback and ltr.manifest()["prior_fallback"]
    assert np.allclose(ltr.held_out_scores(data, np.arange(60, 80)), gains[:60].mean(axis=0))
    assert set(ltr.importances().values()) == {0.0}
    assert not rankers.create("ltr", min_leaf=2, early_stop=0).fit(data, np.arange(60)).fallback
