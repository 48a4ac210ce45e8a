"""Language Ranker: LM states (truncated stack + shared prompt = the full model's states; the
disk cache), the two rankers (set equivariance, training on the sample's answers, CV, reload),
bad inputs; slow: real SmolLM2-135M on the LLM sample and on TREC DL."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from llmrank_cli import rankers  # noqa: E402
from llmrank_cli.errors import LlmrankError  # noqa: E402
from llmrank_cli.kit.lm_states import LmStates  # noqa: E402

DL = Path(__file__).resolve().parents[2] / "shared" / "data" / "trec-dl"
QUERY = "what causes ocean tides"
CANDIDATES = ["The Moon's gravity pulls the oceans.", "no", "Tides rise and fall twice a day " * 8]


@pytest.mark.parametrize("fraction", [0.5, 1.0])
def test_states_equal_the_full_models_hidden_states(tiny_lm, fraction):
    """Layer 1 of 2 (stack cut, no final norm) and layer 2 (the normed top): the prompt's and each
    candidate's last-token state, batched over a shared KV cache, with the top layer's MLP on
    those positions only, equal one full forward pass."""
    from transformers import AutoModelForCausalLM

    states = LmStates(str(tiny_lm), fraction)
    i, r = states.compute(QUERY, CANDIDATES)
    full = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    with torch.no_grad():
        for k, text in enumerate(CANDIDATES):
            ids = states.prompt(QUERY) + states.candidate(text)
            expected = full(torch.tensor([ids]), output_hidden_states=True).hidden_states[states.layer][0, -1]
            assert np.allclose(r[k], expected.numpy(), atol=1e-5)
        expected = full(torch.tensor([states.prompt(QUERY)]), output_hidden_states=True).hidden_states[states.layer]
        assert np.allclose(i, expected[0, -1].numpy(), atol=1e-5)
    assert states.layer == round(fraction * 2) and len(states.model.model.layers) == states.layer
    seen = []
    states.top_mlp.mlp.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[1]))
    states.compute(QUERY, CANDIDATES)
    assert seen == [1, len(CANDIDATES)]  # the top layer's MLP ran on the read positions only


def test_worker_processes_fill_the_cache_with_the_same_states(tiny_lm, tmp_path, monkeypatch):
    """Big CPU jobs run in single-thread worker processes: the states equal one process's, the
    LM never loads in the caller, every query is reported done once, and the pool is reused."""
    from llmrank_cli.kit import lm_states

    work = [(f"{QUERY} {n}", CANDIDATES + [f"answer {n}"]) for n in range(3)]
    expected = [LmStates(str(tiny_lm), 0.5).compute(q, cs) for q, cs in work]
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(lm_states, "PARALLEL_CHARACTERS", 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    states, done = LmStates(str(tiny_lm), 0.5), []
    got = states.states_many(work, done.append)
    assert states.model is None and states.workers is not None and states.computed_tokens > 0
    assert len(done) == len(work)
    for (i, r), (ei, er) in zip(got, expected):
        assert np.allclose(i, ei, atol=2e-3) and np.allclose(r, er, atol=2e-3)  # fp16-rounded
    pool = states.workers
    states.states_many([(QUERY, ["one more answer, new to the cache"])])
    assert states.workers is pool and states.model is None
    pool.close()


def test_worker_processes_follow_cores_memory_and_launchers(monkeypatch):
    from llmrank_cli.kit.lm_workers import cpu_workers

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(os, "sysconf", {"SC_AVPHYS_PAGES": 2**20, "SC_PAGE_SIZE": 2**12}.__getitem__)  # 4 GiB free
    assert cpu_workers("cpu", 2**28) == (4, 4)  # four processes of four threads
    assert cpu_workers("cpu", 2**30) == (2, 8)  # half the free memory holds two LMs of 1 GiB
    assert cpu_workers("cpu", 2**33) == (1, 16)
    assert cpu_workers("cuda", 2**28) == (1, 0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cpu_workers("cpu", 2**28) == (1, 0)  # a launcher's ranks are the processes
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_workers("cpu", 2**28) == (1, 0)  # threads set by hand: one process, as asked


def test_cache_hits_are_identical_and_only_new_texts_run(tiny_lm):
    states = LmStates(str(tiny_lm), 1.0)
    i, r = states.states(QUERY, CANDIDATES)
    ran = states.computed_tokens
    i2, r2 = states.states(QUERY, [CANDIDATES[1], CANDIDATES[0]])
    assert states.computed_tokens == ran  # all from the cache
    assert np.array_equal(i, i2) and np.array_equal(r2, r[[1, 0]])
    _, r3 = states.states(QUERY, [CANDIDATES[0], "a new answer"])
    assert np.array_equal(r3[0], r[0]) and states.computed_tokens > ran
    half = LmStates(str(tiny_lm), 0.5)
    assert half.cache_dir != states.cache_dir  # another layer: another cache
    bf16 = LmStates(str(tiny_lm), 1.0, dtype=torch.bfloat16)
    assert bf16.key == states.key and bf16.cache_dir != states.cache_dir  # same LM, states of their own
    stored = next(states.cache_dir.glob("*.npz"))
    arrays = dict(np.load(stored))
    arrays["lm"] = np.array("another-lm")
    with open(stored, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(LlmrankError, match="a cache of another LM or layer"):
        states.states(QUERY, CANDIDATES)


def test_list_ranker_is_permutation_equivariant():
    from llmrank_cli.rankers.language_ranker import build_network

    settings = rankers.settings_for("language-ranker-list")
    torch.manual_seed(0)
    net = build_network(settings, 24, "list").eval()
    i, r = torch.randn(1, 24), torch.randn(1, 7, 24)
    perm = torch.randperm(7)
    with torch.no_grad():
        a, b = net(i, r)[0], net(i, r[:, perm])[0]
    assert torch.allclose(a[perm], b, atol=1e-6)
    assert sum(p.numel() for p in net.parameters()) < 500_000  # the seed's "< 0.5M parameters"


@pytest.mark.parametrize("name", ["language-ranker-list", "language-ranker-point"])
def test_cv_covers_every_query_once_and_a_model_reloads(name, llm_sample, tiny_lm, tmp_path, cli, monkeypatch):
    from llmrank_cli.datasets import load_items
    from llmrank_cli.formats import read_run

    r = cli("--quiet", "cv", name, "--data", llm_sample / "data", "--lm", tiny_lm, "--rel-level", "2", "--folds", "3",
            "-o", tmp_path / "cv")
    assert r.code == 0, r.err
    data = load_items(llm_sample / "data")
    run = read_run(tmp_path / "cv" / f"{name}.run")
    assert sorted(set(run.table["qid"].to_pylist())) == sorted(data.qids) and len(run) == 30 * 12
    report = json.loads((tmp_path / "cv" / f"{name}.cv.json").read_text())["report"]
    assert report["random_top1_label"] <= report["oracle_top1_label"] and "top1_vs_prior_p" in report
    ranker = rankers.create(name, rankers.Runtime("cpu"), lm=str(tiny_lm), rel_level=2.0)
    ranker.fit(data, np.arange(20), seed=1)
    pools = data.pools()
    queries, texts = [data.texts[q] for q in range(20, 30)], [pools[q][1] for q in range(20, 30)]
    again = rankers.load(ranker.save(tmp_path / "m"), rankers.Runtime("cpu"))
    assert all(np.array_equal(a, b) for a, b in zip(again.score(queries, texts), ranker.score(queries, texts)))
    assert again.name == name and again.lm_info == ranker.lm_info
    # rerank's --batch-size reaches the LM: one candidate a forward pass, the same scores
    from llmrank_cli.kit import lm_states

    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "fresh-cache"))  # computed here, not read back
    batches, token_batches = [], lm_states.token_batches
    monkeypatch.setattr(lm_states, "token_batches", lambda *a: batches.append(a[1]) or token_batches(*a))
    opened = rankers.get(name).open(str(tmp_path / "m"), rankers.Runtime("cpu"), batch_size=1)
    one_by_one = opened.score(queries[:2], texts[:2])
    assert batches == [1, 1] and all(np.allclose(a, b, atol=1e-4) for a, b in zip(one_by_one, ranker.score(
        queries[:2], texts[:2])))


def test_bad_inputs_exit_2(llm_sample, tiny_lm, tmp_path, cli):
    data = llm_sample / "data"
    for fraction in ("0", "1.5"):
        r = cli("train", "language-ranker-point", "--data", data, "--all", "--lm", tiny_lm, "--layer-fraction",
                fraction, "-o", tmp_path / "m")
        assert r.code == 2 and "--layer-fraction must be in (0, 1]" in r.err
    r = cli("train", "language-ranker-point", "--data", data, "--all", "--lm", tiny_lm, "--group-size", "13",
            "-o", tmp_path / "m")
    assert r.code == 2 and "--group-size 13 is above the smallest training pool (12 candidates)" in r.err
    r = cli("train", "language-ranker-list", "--data", data, "--all", "--lm", "no-such-org/no-such-lm", "-o",
            tmp_path / "m")
    assert r.code == 2 and "cannot load model 'no-such-org/no-such-lm'" in r.err and "Traceback" not in r.err
    sample = llm_sample / "s" / "llm"
    bad = tmp_path / "responses.jsonl"
    lines = (sample / "responses.jsonl").read_text().splitlines()
    for n, (field, value, problem) in enumerate([("qid", "nope", "qid 'nope' is not a judged topic"),
                                                 ("llm", "gpt-9", "'gpt-9' is not an item of the qrels")]):
        record = json.loads(lines[4])
        record[field] = value
        bad.write_text("\n".join(lines[:4] + [json.dumps(record)] + lines[5:]) + "\n")
        r = cli("prepare", "items", "--topics", sample / "topics.tsv", "--qrels", sample / "qrels.txt", "--responses",
                bad, "-o", tmp_path / f"d{n}")
        assert r.code == 2 and r.err.strip().endswith(f"{bad}:5: {problem}")
    r = cli("train", "tier2", "--data", data, "--all", "--lm", tiny_lm, "-o", tmp_path / "m")
    assert r.code == 2  # --lm is a language ranker's flag only
    passages = llm_sample / "s" / "passages"
    r = cli("rerank", "--kind", "language-ranker", "--model", tiny_lm, "--run", passages / "bm25.run", "--topics",
            passages / "topics.tsv", "--corpus", passages / "corpus.jsonl", "-o", tmp_path / "x.run")
    assert r.code == 2 and "not a model directory" in r.err
    r = cli("rerank", "--kind", "language-ranker", "--backend", "openvino", "--model", tiny_lm, "--run",
            passages / "bm25.run", "--topics", passages / "topics.tsv", "--corpus", passages / "corpus.jsonl", "-o",
            tmp_path / "x.run")  # it once ran on torch, silently
    assert r.code == 2 and "runs on torch" in r.err and not (tmp_path / "x.run").exists()


def test_teacher_run_distils_its_scores_into_graded_labels(llm_sample, tiny_lm, tmp_path, cli):
    """Setup 1b: a teacher run's top passages are the pools and its scores the labels (MSE):
    the fitted ranker predicts the teacher's scores better than the best constant does."""
    from llmrank_cli.datasets import load_items
    from llmrank_cli.formats import read_run

    p = llm_sample / "s" / "passages"
    common = ["--topics", p / "topics.tsv", "--corpus", p / "corpus.jsonl", "--lm", tiny_lm, "--all"]
    r = cli("--quiet", "train", "language-ranker-point", *common, "--teacher-run", p / "bm25.run", "--depth", "10",
            "--group-size", "10", "--groups-per-query", "64", "--epochs", "20", "--batch-size", "64", "--lr", "0.05",
            "-o", tmp_path / "m")
    assert r.code == 0, r.err
    data, run = load_items(tmp_path / "m" / "data"), read_run(p / "bm25.run").truncated(10)
    teacher = {(q, d): s for q, d, s in zip(*(run.table[c].to_pylist() for c in ("qid", "docno", "score")))}
    pools = data.pools()
    assert sum(len(idx) for idx, _ in pools) == len(teacher) == 10 * len(data.qids)
    y = np.array([teacher[data.qids[q], data.items[i]] for q, (idx, _) in enumerate(pools) for i in idx])
    assert np.allclose(np.concatenate([data.scores[q, idx] for q, (idx, _) in enumerate(pools)]), y)
    model = rankers.load(tmp_path / "m", rankers.Runtime("cpu"))
    assert model.settings.labels == "graded"
    predicted = np.concatenate(model.score([data.texts[q] for q in range(len(pools))], [t for _, t in pools]))
    assert np.mean((predicted - y) ** 2) < np.var(y), (np.mean((predicted - y) ** 2), np.var(y))
    for flags, problem in [(["--qrels", p / "qrels.txt"], "--teacher-run takes --topics and --corpus"),
                           (["--labels", "binary"], "graded labels, not --labels binary")]:
        r = cli("train", "language-ranker-point", *common, "--teacher-run", p / "bm25.run", *flags, "-o", tmp_path / "x")
        assert r.code == 2 and problem in r.err, r.err
    r = cli("train", "tier2", "--topics", p / "topics.tsv", "--corpus", p / "corpus.jsonl", "--all", "--teacher-run",
            p / "bm25.run", "-o", tmp_path / "x")
    assert r.code == 2 and "tier2 ranks items, not passages" in r.err, r.err


@pytest.mark.slow
def test_real_smollm2_ranks_the_samples_answers_above_random(llm_sample, tmp_path, cli):
    """SmolLM2-135M's layer-18 states: a pinned state of a fixed string; both rankers, 5-fold CV
    on the sample's templated answers, pick answers better than a random pick and the prior."""
    pytest.importorskip("gguf")
    states = LmStates("smollm2-135m", 0.6)
    i, r = states.states("What is 2 + 2?", ["4"])
    assert states.layer == 18 and states.hidden == 576
    assert np.allclose([np.linalg.norm(i), np.linalg.norm(r[0]), *r[0, :3]], PINNED, rtol=1e-3, atol=1e-2)
    for name in ("language-ranker-list", "language-ranker-point"):
        out = tmp_path / name
        assert cli("--quiet", "cv", name, "--data", llm_sample / "data", "--rel-level", "2", "--epochs", "20",
                   "--batch-size", "16", "-o", out).code == 0
        report = json.loads((out / f"{name}.cv.json").read_text())["report"]
        assert report["top1_label"] > report["random_top1_label"] + 0.5, report
        assert report["top1_label"] > report["prior_top1_label"], report


@pytest.mark.slow
def test_real_smollm2_trained_on_dl20_reranks_dl19(tmp_path, cli):
    pytest.importorskip("gguf")
    if not DL.exists():
        pytest.skip(f"no TREC DL data at {DL}")
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join((DL / "dl20" / "topics.tsv").read_text().splitlines(True)[:5]))
    model = tmp_path / "model"
    r = cli("--quiet", "train", "language-ranker-list", "--topics", topics, "--qrels", DL / "dl20" / "qrels.txt",
            "--run", DL / "dl20" / "bm25-top100.run", "--corpus", DL / "dl20" / "passages.jsonl", "--depth",
            "20", "--group-size", "8", "--rel-level", "2", "--all", "-o", model)
    assert r.code == 0, r.err
    eval_topics, eval_run = tmp_path / "dl19.tsv", tmp_path / "dl19.run"
    lines = (DL / "dl19" / "topics.tsv").read_text().splitlines(True)[:3]
    eval_topics.write_text("".join(lines))
    qids = {line.split("\t")[0] for line in lines}
    eval_run.write_text("".join(line for line in (DL / "dl19" / "bm25-top100.run").read_text().splitlines(True)
                                if line.split()[0] in qids))
    out = tmp_path / "lr.run"
    r = cli("--quiet", "rerank", "--kind", "language-ranker", "--model", model, "--run", eval_run,
            "--topics", eval_topics, "--corpus", DL / "dl19" / "passages.jsonl", "--depth", "10", "-o", out)
    assert r.code == 0, r.err
    lines = out.read_text().splitlines()
    assert len({line.split()[0] for line in lines}) == 3 and len(lines) == 300
    assert json.loads((tmp_path / "lr.run.manifest.json").read_text())["config"]["lm_states"]["layer"] == 18


PINNED = [168.05, 220.226, 6.8164, -3.2539, -30.6875]  # |i|, |r|, r[:3] of SmolLM2-135M (Q4_1) at layer 18
