"""The LLM rerankers: pointwise (yes/no logits of a causal LM, monoT5) and listwise (rank_llm's
sliding windows and prompts), on tiny random models from real configs and on the real SmolLM2.

Fidelity is checked against rank_llm's own code (the ``rank-llm`` package, its prompt handlers
imported without the package's vLLM-loading __init__)."""
import importlib
import json
import os
import random
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from llmrank_cli.cli import main
from llmrank_cli.formats import read_run
from llmrank_cli.kit import listwise_prompts as lp

from .conftest import shared

WORDS = ("vaccines tides moon gravity immune cells light blue scatter sea antibodies [3] naïve cafÃ© "
         "the of and what how why").split()


def rank_llm_module(name: str):
    """A module of the rank-llm package, its parent packages' __init__ (which load vLLM) skipped."""
    spec = importlib.util.find_spec("rank_llm")
    if spec is None:
        pytest.skip("rank-llm is not installed (pip install --no-deps rank-llm dacite)")
    pytest.importorskip("dacite")
    root = Path(spec.submodule_search_locations[0])
    for package in ("rank_llm.rerank", "rank_llm.rerank.listwise"):
        if package not in sys.modules:
            stub = types.ModuleType(package)
            stub.__path__ = [str(root.joinpath(*package.split(".")[1:]))]
            sys.modules[package] = stub
    return importlib.import_module(name)


def rank_llm_prompt(template_name: str, query: str, passages: list[str], words: int) -> list[dict]:
    data = rank_llm_module("rank_llm.data")
    method = lp.load_template(template_name)["method"]
    handler_module = rank_llm_module(f"rank_llm.rerank.listwise.{method.replace('_listwise', '')}_listwise_"
                                     f"inference_handler")
    handler_class = {"singleturn_listwise": "SingleTurnListwiseInferenceHandler",
                     "multiturn_listwise": "MultiTurnListwiseInferenceHandler"}[method]
    import yaml
    from importlib import resources

    template = yaml.safe_load(resources.files("rank_llm.rerank.prompt_templates").joinpath(
        f"{template_name}_template.yaml").read_text())
    handler = getattr(handler_module, handler_class)(template)
    result = data.Result(query=data.Query(text=query, qid="q"), candidates=[
        data.Candidate(docid=str(i), score=1.0, doc={"contents": p}) for i, p in enumerate(passages)])
    return handler.generate_prompt(result, rank_start=0, rank_end=len(passages), max_length=words)


def _text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)) + rng.choice(["", "  ", "\n"])


@pytest.mark.parametrize("template", lp.SHIPPED)
@pytest.mark.parametrize("seed", range(4))
def test_prompts_equal_rank_llms_rendering(template, seed, capsys):
    rng = random.Random(seed)
    query = f"what is [2] {_text(rng, 5)}"
    passages = [_text(rng, rng.randint(1, 40)) for _ in range(rng.randint(1, 20))]
    words = rng.choice([5, 30, 300])
    ours = lp.render(lp.load_template(template), query, passages, words)
    assert ours == rank_llm_prompt(template, query, passages, words)


ANSWERS = ["[2] > [1] > [3]", "[3] > [3] > [1]", "[9] > [2]", "I cannot rank these.", "", "2 1", "[①] > [２] > [3]",
           "<think>[1] > [2]</think>[3] > [1]", "[0] > [-1] > [2]", "[02] > [1]", "⑴ [2]", "[1][2][3][4][5]"]


@pytest.mark.parametrize("answer", ANSWERS)
def test_an_answer_permutes_a_window_as_rank_llm_does(answer, capsys):
    module = rank_llm_module("rank_llm.rerank.listwise.listwise_inference_handler")
    size = 3
    try:  # rank_llm's receive_permutation; an exception leaves the window as it was
        named = [int(x) - 1 for x in module.ListwiseInferenceHandler._clean_response(None, answer).split()]
    except ValueError:
        named = []
    theirs = [i for i in dict.fromkeys(named) if i in range(size)]
    order, parsed = lp.permutation(answer, size)
    assert order == theirs + [i for i in range(size) if i not in theirs]
    assert parsed == bool(theirs)


def test_windows_slide_from_the_bottom_as_rank_llms():
    from llmrank_cli.rankers.listwise import Listwise, ListwiseSettings

    ranker = Listwise(ListwiseSettings())
    assert ranker.spans(100) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30),
                                 (0, 20)]
    assert ranker.spans(20) == [(0, 20)] and ranker.spans(7) == [(0, 7)]
    assert ranker.spans(25) == [(5, 25), (0, 15)]


# ---- the rankers on tiny models ---------------------------------------------------------------

@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm-rerank")
    assert main(["--quiet", "sample", str(root / "s")]) == 0
    p = root / "s" / "passages"
    return {"run": str(p / "bm25.run"), "topics": str(p / "topics.tsv"), "corpus": str(p / "corpus.jsonl"),
            "qrels": str(p / "qrels.txt")}


def rerank(cli, job, out, *extra):
    return cli("--quiet", "rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"],
               "-o", str(out), *extra)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache of the test's own, but for the GGUF models the test session has kept (SmolLM2's
    dequantisation, ~15 s, once a session)."""
    kept = Path(os.environ["LLMRANK_CACHE"]) / "gguf"
    kept.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "gguf").symlink_to(kept, target_is_directory=True)
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _manifest(out) -> dict:
    return json.loads(Path(f"{out}.manifest.json").read_text())["config"]


def test_listwise_rerank_reorders_within_the_depth_and_a_rerun_makes_no_call(cli, job, tiny_lm, tmp_path, cache):
    first, again, uncached = tmp_path / "a.run", tmp_path / "b.run", tmp_path / "c.run"
    args = ["--kind", "listwise", "--model", str(tiny_lm), "--depth", "6", "--window", "4", "--stride", "2"]
    assert rerank(cli, job, first, *args).code == 0
    m = _manifest(first)
    assert m["windows"] == m["calls"] == 15 * 2 and m["cached_calls"] == 0  # 15 queries, windows (2, 6), (0, 4)
    assert m["backend"] == "transformers" and m["template"] == "rank_zephyr" and m["completion_tokens"] > 0
    assert rerank(cli, job, again, *args).code == 0
    assert again.read_bytes() == first.read_bytes()
    assert _manifest(again)["calls"] == 0 and _manifest(again)["cached_calls"] == 30
    assert rerank(cli, job, uncached, *args, "--no-cache").code == 0
    assert uncached.read_bytes() == first.read_bytes() and _manifest(uncached)["calls"] == 30
    before, after = read_run(job["run"]).output_order().to_pylist(), read_run(str(first)).table.to_pylist()
    for q in {r["qid"] for r in before}:
        old = [r["docno"] for r in before if r["qid"] == q]  # the order rerank reads the input in
        new = [r["docno"] for r in sorted((r for r in after if r["qid"] == q), key=lambda r: r["rank"])]
        assert sorted(new[:6]) == sorted(old[:6]) and new[6:] == old[6:]  # below the depth: as it was


KILLED_AFTER = """
import os, sys
from llmrank_cli.kit.chat_lm import ChatLM
answer, calls = ChatLM.answer, [0]
def dying(self, ids, n):
    calls[0] += 1
    if calls[0] > int(os.environ["DIE_AFTER"]):
        os._exit(9)  # as kill -9: no cleanup, mid-chunk
    return answer(self, ids, n)
ChatLM.answer = dying
from llmrank_cli.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_listwise_killed_mid_chunk_resumes_to_the_same_bytes_from_the_cache(job, tiny_lm, tmp_path, cache):
    """Two queries a chunk, two windows a query, the queries' windows in step: the job dies in its
    seventh call (the second chunk's third window), as under kill -9; resumed, the first chunk is skipped, the two answers
    of the dead chunk come from the cache, and the run is the uninterrupted one's."""
    args = ["--quiet", "rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"],
            "--kind", "listwise", "--model", str(tiny_lm), "--depth", "6", "--window", "4", "--stride", "2",
            "--chunk-pairs", "12"]
    whole, cut = tmp_path / "whole.run", tmp_path / "cut.run"
    assert main([*args, "--no-cache", "-o", str(whole)]) == 0
    died = subprocess.run([sys.executable, "-c", KILLED_AFTER, *args, "-o", str(cut)], capture_output=True,
                          env={**os.environ, "DIE_AFTER": "6"})
    assert died.returncode == 9 and not cut.exists()
    assert len(Path(f"{cut}.partial.done").read_text().split()) == 2
    assert main([*args, "--resume", "-o", str(cut)]) == 0
    assert cut.read_bytes() == whole.read_bytes()
    m = _manifest(cut)
    assert (m["windows"], m["cached_calls"], m["calls"]) == (26, 2, 24)


def test_pointwise_scores_are_the_yes_no_log_odds_of_each_prompt_alone(job, tiny_lm):
    import torch
    from transformers import AutoModelForCausalLM

    from llmrank_cli.rankers import get

    ranker = get("pointwise").open(str(tiny_lm), batch_size=3)
    queries = ["how do vaccines work", "what causes tides", "why is the sky blue"] * 3
    passages = [_text(random.Random(i), 5 + 7 * i) for i in range(9)]
    batched = ranker.score_pairs(queries, passages)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    yes, no = ranker.tokens
    for q, p, got in zip(queries, passages, batched):
        ids = torch.tensor([ranker.prompt(q, p).ids])
        with torch.inference_mode():
            logits = model(ids).logits[0, -1].float()
        assert got == pytest.approx(float(logits[yes] - logits[no]), abs=1e-4)
    text = ranker.lm.chat_text(ranker.prompt("how do vaccines work", "passage text").content)
    assert text.startswith("<|im_start|>system\nJudge whether") and text.endswith("<|im_start|>assistant\n")
    assert "<Query>: how do vaccines work\n<Document>: passage text" in text
    assert ranker.manifest()["calls"] == 9


def test_pointwise_rerank_writes_a_run(cli, job, tiny_lm, tmp_path):
    out = tmp_path / "p.run"
    r = rerank(cli, job, out, "--kind", "pointwise", "--model", str(tiny_lm), "--depth", "5", "--prompt",
               "Query: {query}\nPassage: {passage}\nRelevant?", "--true-token", "yes")
    assert r.code == 0, r.err
    run = read_run(str(out))
    assert len(run) == len(read_run(job["run"])) and _manifest(out)["prompt"].startswith("Query: {query}")


def test_monot5_scores_are_log_p_true_of_each_pair_alone(cli, job, tiny_t5, tmp_path):
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from llmrank_cli.rankers import get

    ranker = get("monot5").open(str(tiny_t5), batch_size=2)
    queries, passages = ["what causes tides"] * 3 + ["sky blue"], ["moon gravity sea", "light", "cells " * 30, "blue"]
    got = ranker.score_pairs(queries, passages)
    tok, model = AutoTokenizer.from_pretrained(tiny_t5), T5ForConditionalGeneration.from_pretrained(tiny_t5).eval()
    t, f = tok.convert_tokens_to_ids("true"), tok.convert_tokens_to_ids("false")
    for q, p, value in zip(queries, passages, got):
        enc = tok(f"Query: {q} Document: {p} Relevant:", return_tensors="pt")
        with torch.inference_mode():
            logits = model(**enc, decoder_input_ids=torch.zeros((1, 1), dtype=torch.long)).logits[0, 0]
        assert value == pytest.approx(float(torch.log_softmax(logits[[f, t]], -1)[1]), abs=1e-5)
    out = tmp_path / "t5.run"
    assert rerank(cli, job, out, "--kind", "monot5", "--model", str(tiny_t5), "--depth", "4").code == 0
    assert len(read_run(str(out))) == len(read_run(job["run"]))


@pytest.fixture(scope="module")
def no_weights(tiny_lm, tmp_path_factory):
    """tiny_lm's tokenizer and config without its weights: a check that fires before the weights
    load says its own line, not a load error."""
    import shutil

    d = tmp_path_factory.mktemp("no-weights")
    for f in Path(tiny_lm).iterdir():
        if not f.name.endswith(".safetensors"):
            shutil.copy(f, d)
    return d


@pytest.mark.parametrize("args, says", [
    (["--kind", "listwise", "--window", "200"], "--window 200: even one-word passages"),
    (["--kind", "listwise", "--template", "missing.yaml"], "--template 'missing.yaml': neither"),
    (["--kind", "pointwise", "--true-token", "very relevant"], "--true-token 'very relevant' is"),
    (["--kind", "pointwise", "--prompt", "Query: {query} only"], "{passage} is missing"),
    (["--kind", "listwise", "--batch-size", "2", "--backend", "openvino"], "runs on torch"),
])
def test_bad_settings_are_one_line_before_the_model_loads(cli, job, no_weights, tmp_path, args, says):
    out = tmp_path / "never.run"
    r = rerank(cli, job, out, "--model", str(no_weights), *args)
    assert r.code == 2 and says in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not out.exists()


def test_a_template_without_its_placeholders_is_refused(tmp_path):
    from llmrank_cli.errors import LlmrankError

    bad = tmp_path / "t.yaml"
    bad.write_text('method: "singleturn_listwise"\nbody: "[{rank}] text"\nprefix: "Rank for {query}"\n')
    with pytest.raises(LlmrankError, match=r"its body lacks \{candidate\}"):
        lp.load_template(str(bad))
    bad.write_text('method: "singleturn_listwise"\nbody: "[{rank}] {candidate}"\nprefix: "Rank these"\n')
    with pytest.raises(LlmrankError, match="the query"):
        lp.load_template(str(bad))


def test_a_model_without_a_chat_template_is_refused_for_chat_prompts(cli, job, no_weights, tmp_path):
    config = json.loads((no_weights / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (no_weights / "tokenizer_config.json").write_text(json.dumps(config))
    for f in no_weights.glob("chat_template.*"):
        f.unlink()
    r = rerank(cli, job, tmp_path / "x.run", "--model", str(no_weights), "--kind", "listwise")
    assert r.code == 2 and "has no chat template" in r.err


# ---- the real SmolLM2-135M ----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["listwise", "pointwise"])
def test_smollm2_reranks_dl19_queries_end_to_end(cli, kind, tmp_path, cache):
    d = shared("trec-dl", "dl19")
    run = tmp_path / "in.run"
    lines = (d / "bm25-top100.run").read_text().splitlines()
    qids = list(dict.fromkeys(line.split()[0] for line in lines))[:2]
    run.write_text("".join(line + "\n" for line in lines if line.split()[0] in qids))
    out = tmp_path / f"{kind}.run"
    r = cli("--quiet", "rerank", "--kind", kind, "--model", "smollm2-135m", "--run", str(run), "--topics",
            str(d / "topics.tsv"), "--corpus", str(d / "passages.jsonl"), "--depth", "10", "-o", str(out))
    assert r.code == 0, r.err
    m = _manifest(out)
    assert m["model"] == "smollm2-135m" and m["calls"] > 0
    ours = read_run(str(out))
    assert len(ours) == len(read_run(str(run)))
    if kind == "listwise":
        assert m["windows"] == 2 and m["completion_tokens"] > 0
    scores = np.array(ours.table["score"].to_pylist())
    assert np.isfinite(scores).all() and len(set(scores.round(6))) > 2


@pytest.mark.slow
def test_a_gguf_file_is_parsed_and_dequantised_once(monkeypatch, tmp_path):
    """transformers parses the whole GGUF file for the tokenizer, again for the config, and
    dequantises it for every model load (about 4, 4 and 12 s for SmolLM2's): the first load keeps
    them as transformers' own files; later loads read those, never the GGUF, and get the same
    tokens, config and weights as transformers' own parse of the file."""
    pytest.importorskip("gguf")
    import torch
    import transformers
    from transformers import modeling_gguf_pytorch_utils

    from llmrank_cli.kit.causal_lm import load_causal_lm
    from llmrank_cli.kit.chat_lm import tokenizer_and_config

    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path))
    parsed = {}  # what transformers made of the GGUF file itself, as the first load asked for it
    for auto in ("AutoTokenizer", "AutoConfig", "AutoModelForCausalLM"):
        def spy(*args, _auto=auto, _load=getattr(transformers, auto).from_pretrained, **kwargs):
            made = _load(*args, **kwargs)
            if "gguf_file" in kwargs:
                parsed.setdefault(_auto, made)
            return made
        monkeypatch.setattr(getattr(transformers, auto), "from_pretrained", spy)
    tokenizer, model = load_causal_lm("smollm2-135m")
    assert set(parsed) == {"AutoTokenizer", "AutoConfig", "AutoModelForCausalLM"}
    assert len(list(tmp_path.glob("gguf/*/model.safetensors"))) == 1

    def parse(*args, **kwargs):
        raise AssertionError("the GGUF file was parsed again")

    monkeypatch.setattr(modeling_gguf_pytorch_utils, "load_gguf_checkpoint", parse)
    kept, kept_config, files = tokenizer_and_config("smollm2-135m")
    assert load_causal_lm("smollm2-135m")[1] is not model and files.endswith(".gguf")
    messages = [{"role": "system", "content": "You are RankLLM."},
                {"role": "user", "content": "Rank [1] café ☕ 12345\n\n  tabs\t naïve résumé [3] > [1]"}]
    passages = (shared("trec-dl", "dl19") / "passages.jsonl").read_text()[:100_000]
    gguf_tokenizer = parsed["AutoTokenizer"]
    for ours in (tokenizer, kept):
        assert ours.apply_chat_template(messages, add_generation_prompt=True) == \
            gguf_tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        assert ours(passages).input_ids == gguf_tokenizer(passages).input_ids
        assert (ours.eos_token, ours.pad_token, ours.padding_side) == \
            (gguf_tokenizer.eos_token, gguf_tokenizer.pad_token, gguf_tokenizer.padding_side)
    same = {k: v for k, v in parsed["AutoConfig"].to_dict().items() if k not in ("_name_or_path", "architectures")}
    assert {k: v for k, v in kept_config.to_dict().items() if k not in ("_name_or_path", "architectures")} == same
    assert kept_config.architectures == ["LlamaForCausalLM"]  # named, for readers that pick a class by it
    gguf_model = parsed["AutoModelForCausalLM"]
    dequantised, weights = gguf_model.state_dict(), model.state_dict()
    assert weights.keys() == dequantised.keys() and all(torch.equal(weights[k], dequantised[k]) for k in weights)
    assert model.generation_config.eos_token_id == gguf_model.generation_config.eos_token_id
