#!/usr/bin/env python3
"""10-fold CV of ``two-tower-tier2`` on MMLU-Pro (12,032 questions x 31 LLMs = 371k pairs), the
Million LLMs issue's speed benchmark (goal: <= 10 min on 2 cores; the seed took 3.1 h).

llmrank embeds every question once (``prepare``) and trains on those tensors. The baseline is
the same CV with the frozen sentence encoder run inside the training loop, once per batch: its
time is llmrank's CV time plus the encoder's time on every batch of the CV, which is measured
here on batches of MMLU-Pro questions and multiplied by the CV's batch count (folds x epochs x
batches per epoch; running it whole would take about a day).

Usage: python benchmarks/tier2_cv_speed.py [--data PREPARED_DIR] [--probe-batches 8]
(without --data, the questions are prepared into a temporary directory first, and timed)
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "llm-ranking" / "mmlu-pro"
LLMRANK = [sys.executable, "-m", "llmrank_cli", "--quiet"]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def encoder_seconds_per_batch(texts: list[str], batch_size: int, batches: int) -> float:
    from llmrank_cli.datasets import DEFAULT_ENCODER
    from llmrank_cli.kit.encoders import load_sentence_transformer

    st = load_sentence_transformer(DEFAULT_ENCODER, "cpu")
    st.encode(texts[:batch_size], batch_size=batch_size, show_progress_bar=False)  # warm-up
    start = time.perf_counter()
    for b in range(1, batches + 1):
        st.encode(texts[b * batch_size:(b + 1) * batch_size], batch_size=batch_size, show_progress_bar=False)
    return (time.perf_counter() - start) / batches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="a directory made by `llmrank prepare items` from MMLU-Pro")
    ap.add_argument("--probe-batches", type=int, default=8)
    args = ap.parse_args()
    from dataclasses import asdict

    from llmrank_cli import rankers

    work = Path(tempfile.mkdtemp())
    data, t_prepare = args.data, None
    if data is None:
        data = str(work / "mmlu-pro")
        t_prepare = timed(LLMRANK + ["prepare", "items", "--topics", str(DATA / "topics.tsv"), "--qrels",
                                     str(DATA / "qrels.txt"), "-o", data])
    t_cv = timed(LLMRANK + ["cv", "tier2", "--data", data, "-o", str(work / "cv")])
    result = json.loads((work / "cv" / "two-tower-tier2.cv.json").read_text())
    cfg = asdict(rankers.settings_for("two-tower-tier2"))
    texts = [line.split("\t", 1)[1] for line in (Path(data) / "topics.tsv").read_text().splitlines()]
    folds = result["folds"]
    per_batch = encoder_seconds_per_batch(texts, cfg["batch_size"], args.probe_batches)
    n_train = len(texts) - len(texts) // folds
    batches = folds * cfg["epochs"] * math.ceil(n_train / cfg["batch_size"])
    t_baseline = t_cv + batches * per_batch
    ours = t_cv + (t_prepare or 0.0)
    print(f"MMLU-Pro: {len(texts)} questions, 10-fold CV of tier2, {cfg['epochs']} epochs, batch {cfg['batch_size']}; "
          f"OOF nDCG@10 {result['measures']['nDCG@10']['mean']:.4f}")
    print(f"llmrank cv:                  {t_cv / 60:6.1f} min (goal: 10 min; the seed took 3.1 h)")
    if t_prepare is not None:
        print(f"llmrank prepare (encode once): {t_prepare / 60:4.1f} min")
    print(f"baseline, encoder per batch: {t_baseline / 3600:6.1f} h ({batches} batches x {per_batch:.2f} s, "
          f"measured on {args.probe_batches} batches, + the CV)")
    print(f"speed ratio (baseline / llmrank{' prepare + cv' if t_prepare is not None else ' cv'}): "
          f"{t_baseline / ours:.0f}x")


if __name__ == "__main__":
    main()
