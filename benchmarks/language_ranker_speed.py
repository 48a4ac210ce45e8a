#!/usr/bin/env python3
"""Language Ranker's speed and memory targets (#17), each against a baseline measured in the
same run, with SmolLM2-135M (smollm2-135m) on DL19's BM25 candidates:

1. LM states at depth 0.6 (layer 18 of 30: the stack cut there, the query's prompt run once and
   its KV cache shared by the candidates, token-budget batches) vs the same at all 30 layers
   (goal >= 1.5x) and vs a per-pair forward of the whole model with output_hidden_states (the
   plain way; goal >= 3x); the states must agree (fp32, 1e-3).
2. Tokens per second of (1) in one process, and from it the projected extraction time of DL19 +
   DL20 (goal <= 20 min), RouterBench and Arena (goal <= 1 h each), from their token counts; with
   --extract-dl, DL19 + DL20's states extracted for real into a fresh cache as train and rerank
   do (on a CPU: one single-thread worker process per core), timed end to end.
3. Training language-ranker-list on DL20's cached states (5,396 pairs; goal <= 60 s) and scoring
   DL19's 4,297 cached pairs (goal < 2 s), vs the seed's 67 s for training.
4. Peak RSS of this process and of the largest worker (goal < 3 GB).

Usage: python benchmarks/language_ranker_speed.py [--queries 2] [--candidates 40] [--rounds 2] [--extract-dl] [--skip-train]
Part 3 extracts DL20's and DL19's states first when they are not cached (about 20 minutes).
"""
import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DL = ROOT.parent / "shared" / "data" / "trec-dl"
LLM = ROOT.parent / "shared" / "data" / "llm-ranking"


def pairs(year: str, queries: int, depth: int):
    from llmrank_cli.formats import read_run, read_topics
    from llmrank_cli.formats.corpus import read_passages

    topics = read_topics(DL / year / "topics.tsv")[:queries]
    run = read_run(DL / year / "bm25-top100.run").truncated(depth)
    passages = read_passages(DL / year / "passages.jsonl")
    out = []
    for t in topics:
        docs = run.for_queries([t.qid]).table["docno"].to_pylist()
        out.append((t.text, [passages[d] for d in docs]))
    return out


def extraction(work, rounds: int) -> float:
    """Seconds and tokens per second of LmStates at 0.6 vs 1.0 vs per-pair full forwards, each
    the best of `rounds` interleaved rounds (this machine's speed drifts by 20% over minutes)."""
    import torch

    from llmrank_cli.kit.causal_lm import load_causal_lm
    from llmrank_cli.kit.lm_states import LmStates

    shallow, deep = LmStates("smollm2-135m", 0.6), LmStates("smollm2-135m", 1.0)
    _, model = load_causal_lm("smollm2-135m")
    layer, results = shallow.layer, {}

    def per_pair():
        with torch.inference_mode():
            return [np.stack([model(torch.tensor([shallow.prompt(q) + shallow.candidate(c)]),
                                    output_hidden_states=True).hidden_states[layer][0, -1].numpy() for c in cs])
                    for q, cs in work]

    variants = {"depth 0.6, shared prompt": lambda: [shallow.compute(q, cs)[1] for q, cs in work],
                "all 30 layers, shared prompt": lambda: [deep.compute(q, cs)[1] for q, cs in work],
                "per pair, whole model, output_hidden_states": per_pair}
    shallow.compute(work[0][0], work[0][1][:4]), deep.compute(work[0][0], work[0][1][:4])  # warm-up
    timings = {label: float("inf") for label in variants}
    for _ in range(rounds):
        for label, run in variants.items():
            start = time.perf_counter()
            results[label] = run()
            timings[label] = min(timings[label], time.perf_counter() - start)
    tokens = sum(len(shallow.prompt(q)) + sum(len(shallow.candidate(c)) for c in cs) for q, cs in work)
    worst = max(float(np.abs(a - b).max() / (np.abs(b).max() + 1e-9))
                for a, b in zip(results["per pair, whole model, output_hidden_states"], results["depth 0.6, shared prompt"]))
    base = timings["depth 0.6, shared prompt"]
    print(f"LM states of {sum(len(cs) for _, cs in work)} pairs ({tokens} tokens), SmolLM2-135M, layer {layer}, "
          f"best of {rounds} rounds:")
    for label, seconds in timings.items():
        print(f"  {label:<46} {seconds:7.1f} s   {seconds / base:5.2f}x of depth 0.6")
    print(f"  largest relative difference of the states to the per-pair forward: {worst:.1e} (goal <= 1e-3)")
    return tokens / base


def projected(rate: float) -> None:
    from transformers import AutoTokenizer

    from llmrank_cli.kit.resolve import resolve_causal_lm

    path, gguf = resolve_causal_lm("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
    print(f"projected extraction at {rate:.0f} tokens/s (each prompt once, candidates cut at 256 tokens):")
    sets = {"DL19 + DL20 (BM25 top-100)": [(q, cs) for y in ("dl19", "dl20") for q, cs in pairs(y, 100, 100)]}
    for name in ("routerbench-slice", "arena-bench-v1"):
        texts = dict(line.rstrip("\n").split("\t", 1) for line in open(LLM / name / "topics.tsv"))
        by_query = {}
        for line in open(LLM / name / "responses.jsonl"):
            r = json.loads(line)
            by_query.setdefault(r["qid"], []).append(r["response"])
        sets[name] = [(texts[q], cs) for q, cs in by_query.items()]
    template = len(tokenizer.apply_chat_template([{"role": "user", "content": ""}], add_generation_prompt=True,
                                                 return_dict=True)["input_ids"])
    for name, work in sets.items():
        prompts = sum(len(ids) + template for ids in tokenizer([q for q, _ in work], add_special_tokens=False)["input_ids"])
        answers = [c for _, cs in work for c in cs]
        tokens = prompts + sum(min(len(ids), 256) + 1 for ids in tokenizer(answers, add_special_tokens=False)["input_ids"])
        print(f"  {name:<28} {len(answers):6d} candidates {tokens / 1e6:5.2f}M tokens  {tokens / rate / 60:5.1f} min")


def matmul_floor(tokens: int) -> str:
    """Minutes the 18 layers' matrix products alone take for `tokens` at this machine's fp32
    matmul rate (one 512-token product, as the CPU batches are; the top MLP runs on read
    positions only): no exact extraction in one process is faster."""
    import torch

    from llmrank_cli.kit.causal_lm import load_causal_lm

    _, model = load_causal_lm("smollm2-135m")
    layers = model.model.layers[:18]
    flops = 2 * sum(m.weight.numel() for m in layers.modules() if isinstance(m, torch.nn.Linear))
    flops -= 2 * sum(p.numel() for p in layers[-1].mlp.parameters())
    a, b = torch.randn(512, 576), torch.randn(576, 1536)
    for _ in range(5):
        a @ b
    start = time.perf_counter()
    for _ in range(100):
        a @ b
    rate = 2 * 512 * 576 * 1536 * 100 / (time.perf_counter() - start)
    return f"{tokens * flops / rate / 60:.1f} min of matmuls alone at this machine's {rate / 1e9:.0f} GFLOP/s"


def extract_dl() -> None:
    """DL19 + DL20's layer-18 states as train and rerank extract them (worker processes of one
    thread each on a CPU), into an empty cache."""
    import os

    from llmrank_cli.kit.lm_states import LmStates

    work = [(q, cs) for year in ("dl19", "dl20") for q, cs in pairs(year, 100, 100)]
    kept = os.environ["LLMRANK_CACHE"]
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LLMRANK_CACHE"] = cache
        states = LmStates("smollm2-135m", 0.6)
        start = time.perf_counter()
        states.states_many(work)
        seconds = time.perf_counter() - start
        if states.workers:
            states.workers.close()  # their peak RSS is counted once they have ended
    os.environ["LLMRANK_CACHE"] = kept
    print(f"DL19 + DL20 extracted for real: {sum(len(cs) for _, cs in work)} pairs, {states.computed_tokens} tokens "
          f"in {seconds / 60:.1f} min ({states.computed_tokens / seconds:.0f} tokens/s; goal <= 20 min), "
          f"{states.workers.count if states.workers else 1} process(es); {matmul_floor(states.computed_tokens)}")


def training() -> None:
    from llmrank_cli import rankers
    from llmrank_cli.datasets import load_items, prepare_items
    from llmrank_cli.formats import read_qrels, read_topics

    with tempfile.TemporaryDirectory() as tmp:
        data = {}
        for year in ("dl20", "dl19"):
            d = prepare_items(read_topics(DL / year / "topics.tsv"), read_qrels(DL / year / "qrels.txt"),
                              f"{tmp}/{year}", None, 2, 0, "all-MiniLM-L6-v2", [], candidates=str(DL / year / "bm25-top100.run"),
                              corpus=str(DL / year / "passages.jsonl"))
            data[year] = load_items(str(d))
        from llmrank_cli.rankers.language_ranker import pool_states

        ranker = rankers.create("language-ranker-list", rankers.Runtime("cpu"), rel_level=2.0, group_size=16,
                                groups_per_query=200)
        pool_states(data["dl20"], ranker.lm_states())  # from the disk cache (extracted first when missing)
        start = time.perf_counter()
        ranker.fit(data["dl20"], np.arange(len(data["dl20"].qids)), seed=0)
        trained = time.perf_counter() - start
        pool_states(data["dl19"], ranker.lm_states())
        start = time.perf_counter()
        ranker.held_out_scores(data["dl19"], np.arange(len(data["dl19"].qids)))
        scored = time.perf_counter() - start
    print(f"training language-ranker-list on DL20's cached states ({sum(len(idx) for idx, _ in data['dl20'].pools())} pairs, "
          f"10,800 groups of 16): {trained:.1f} s (goal <= 60 s; the seed: 67 s)")
    print(f"scoring DL19's {sum(len(idx) for idx, _ in data['dl19'].pools())} cached pairs: {scored:.2f} s (goal < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--extract-dl", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    a = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import os

    os.environ["LLMRANK_CACHE"] = os.environ.get("LLMRANK_CACHE", str(Path.home() / ".cache" / "llmrank"))
    projected(extraction(pairs("dl19", a.queries, a.candidates), a.rounds))
    if a.extract_dl:
        extract_dl()
    if not a.skip_train:
        training()
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB (goal < 3 GB)"
          + (f"; largest worker process {worker:.2f} GB" if worker else ""))


if __name__ == "__main__":
    main()
