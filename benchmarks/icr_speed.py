#!/usr/bin/env python3
"""ICR / RouteHead speed and memory (#18), each against a baseline measured in the same run, with
SmolLM2-135M (smollm2-135m) on DL19's BM25 candidates:

1. The KV-shared path (one SDPA pass over the passages, then the query and N/A suffixes on
   copies of its cache, the only passes with attention weights) vs output_attentions on the
   whole prompt, twice (the plain way); goal >= 1.5x, per-head scores equal to 1e-5.
2. Seconds per query at window 10 / 20 / 40 (one prompt each) and for one 100-passage prompt
   (passages cut to 64 tokens); the DL19 top-100 time projected from the tournament's prompts
   (goal <= 30 min). Peak RSS after window 20 (goal < 4 GB).
3. Training RouteHead on per-head scores of DL20's shape (54 queries x 20 passages x 270 heads,
   random here; the time does not depend on the values): goal <= 30 s.

Usage: python benchmarks/icr_speed.py [--queries 3]
"""
import argparse
import copy
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DL = ROOT.parent / "shared" / "data" / "trec-dl"


def candidates(queries: int, depth: int):
    from llmrank_cli.formats import read_run, read_topics
    from llmrank_cli.formats.corpus import read_passages

    topics = read_topics(DL / "dl19" / "topics.tsv")[:queries]
    run = read_run(DL / "dl19" / "bm25-top100.run").truncated(depth)
    passages = read_passages(DL / "dl19" / "passages.jsonl")
    return [(t.text, [passages[d] for d in run.for_queries([t.qid]).table["docno"].to_pylist()]) for t in topics]


def whole_prompt_attention(icr, prompt):
    """The plain way: each full prompt once with output_attentions (eager), suffix rows kept."""
    import torch

    out = {}
    icr.lm.set_attn_implementation("eager")
    try:
        with torch.inference_mode():
            for text in prompt.suffixes:
                ids = prompt.ids(text)
                att = icr.lm.model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
                att = torch.stack(att)[:, 0, :, len(prompt.prefix):, :len(prompt.prefix)]
                out[text] = att.float().mean(dim=2)
    finally:
        icr.lm.set_attn_implementation("sdpa")
    return out


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=3)
    args = ap.parse_args()
    from llmrank_cli.rankers.icr import Icr

    icr = Icr.open("smollm2-135m")
    icr.truncated = 0
    work = candidates(args.queries, 100)

    print(f"SmolLM2-135M, DL19 BM25 candidates, {args.queries} queries, 2 CPU cores")
    per_window = {}
    for window in (10, 20):
        seconds = [timed(lambda: icr.score_window(q, ps[:window]))[0] for q, ps in work]
        per_window[window] = float(np.mean(seconds))
    rss_20 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    seconds = [timed(lambda: icr.score_window(q, ps[:40]))[0] for q, ps in work]
    per_window[40] = float(np.mean(seconds))
    for window, s in per_window.items():
        print(f"  window {window:>3}: {s:6.2f} s per prompt (one query)")
    icr.max_length = 64
    s100 = float(np.mean([timed(lambda: icr.score_window(q, ps[:100]))[0] for q, ps in work[:1]]))
    icr.max_length = 300
    print(f"  100 passages cut to 64 tokens, one prompt: {s100:6.2f} s")
    tournament = 6 * per_window[20]  # 5 windows of 20 and one final prompt
    print(f"  DL19 top-100, tournament of windows of 20: {tournament:5.1f} s per query, projected "
          f"{43 * tournament / 60:4.1f} min for 43 queries (goal <= 30)")
    print(f"  peak RSS after window 20: {rss_20:.2f} GB (goal < 4)")

    shared_s, plain_s, worst = 0.0, 0.0, 0.0
    for q, ps in work:
        prompt = icr.build(q, ps[:20])
        t, (shared, _) = timed(lambda: icr.attention(prompt))
        shared_s += t
        t, plain = timed(lambda: whole_prompt_attention(icr, copy.deepcopy(prompt)))
        plain_s += t
        for text in shared:
            worst = max(worst, float((shared[text] - plain[text]).abs().max()))
    print(f"attention of window-20 prompts: KV-shared {shared_s:.2f} s vs output_attentions on the whole "
          f"prompt {plain_s:.2f} s: {plain_s / shared_s:.2f}x (goal >= 1.5x); largest difference {worst:.1e} "
          f"(goal 1e-5)")

    from types import SimpleNamespace

    from llmrank_cli.rankers.routehead import RouteHead

    rng = np.random.default_rng(0)
    n_q, window, layers, heads, hidden = 54, 20, 30, 9, 576
    gains = rng.integers(0, 4, (n_q, window)).astype(np.float64)
    data = SimpleNamespace(
        meta={"lm": "smollm2-135m", "layers": layers, "heads": heads, "hidden": hidden, "state_layer": 18},
        qids=[str(i) for i in range(n_q)], scores=rng.random((n_q, window, layers * heads)),
        states=rng.standard_normal((n_q, hidden)).astype(np.float32), gains=gains,
        ideal=np.array([sum(sorted(g, reverse=True)[k] / np.log2(k + 2) for k in range(10)) for g in gains]),
        rest_gains=[np.zeros(10)] * n_q, top=[list(range(window))] * n_q)
    from llmrank_cli.datasets.heads import HeadsData

    data.ndcg = lambda q, scores: HeadsData.ndcg(data, q, scores)
    t, _ = timed(lambda: RouteHead().fit(data))
    print(f"RouteHead training on cached scores (54 x 20 x 270, 300 epochs): {t:.1f} s (goal <= 30 s)")


if __name__ == "__main__":
    main()
