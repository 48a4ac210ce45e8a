#!/usr/bin/env python3
"""LT-TTD's speed and memory targets (#16), each against a baseline measured in the same run:

1. 10-fold CV of lt-ttd (K = 5) on MMLU-Pro (12,032 questions x 31 LLMs), goal <= 15 min on
   2 cores, vs the same CV of two-tower-tier2 (about 7 min); peak RSS of each (goal < 4 GB) and
   the size of the prepared layer states (goal <= 150 MB).
2. ms per query of scoring at K = 10 and 31 on MMLU-Pro's pool and, on a synthetic pool of
   1,000 items, K = 50 to 500 (LT's attention is O(K^2)), vs TTE alone (K = 1).
3. Training on DL20's 5,396 passages (K = 100), goal <= 10 min.

Usage: python benchmarks/lt_ttd_speed.py [--data out/ltttd/mmlu-pro] [--dl-data out/ltttd/dl20]
       [--skip-cv]   (the data directories come from commands/lt-ttd.sh)
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLMRANK = [sys.executable, "-m", "llmrank_cli", "--quiet"]


def timed(cmd: list) -> tuple[float, float]:
    """(seconds, peak RSS of the child in GB); children run one at a time, so the high-water
    mark read after each is that child's when it is the largest so far."""
    start = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def ms_per_query(ranker, states, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        ranker.score_pool(states, [])
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(states)


def scoring_table(data_dir: Path) -> None:
    import numpy as np
    import torch

    from llmrank_cli import rankers
    from llmrank_cli.datasets import load_items

    d = load_items(str(data_dir))
    train = np.arange(2000)
    held = d.layer_states[2000:3000]
    print("scoring, ms per query (1,000 queries, one thread count as set):")
    for k in (1, 10, 31):
        r = rankers.create("lt-ttd", k=k, epochs=1).fit(d, train, seed=0)
        print(f"  MMLU-Pro pool of {len(d.items)}, K = {k:>3}: {ms_per_query(r, held):7.3f}")
    base = rankers.create("lt-ttd", k=1, epochs=1).fit(d, train, seed=0)
    pool = 1000
    rng, t1 = np.random.default_rng(0), None
    for k in (1, 50, 100, 200, 500):  # the same network over a synthetic pool of 1,000 items
        r = rankers.create("lt-ttd", k=k)
        r.net, r.items, r.layers = base.net, [f"i{i}" for i in range(pool)], base.layers
        r.net.item_embedding = torch.nn.Embedding(pool, r.settings.item_dim)
        r.net.item_gain = torch.as_tensor(rng.random(pool), dtype=torch.float32)
        t = ms_per_query(r, held[:200])
        t1 = t1 or t  # K = 1 comes first: TTE alone
        print(f"  synthetic pool of {pool}, K = {k:>3}: {t:7.3f}  ({t / t1:.1f}x TTE alone)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=ROOT / "out/ltttd/mmlu-pro", type=Path)
    ap.add_argument("--dl-data", default=ROOT / "out/ltttd/dl20", type=Path)
    ap.add_argument("--skip-cv", action="store_true")
    a = ap.parse_args()
    states = a.data / "layer_states.npy"
    print(f"layer states: {states.stat().st_size / 1e6:.0f} MB (goal <= 150 MB)")
    with tempfile.TemporaryDirectory() as tmp:
        if not a.skip_cv:
            base, base_rss = timed(LLMRANK + ["cv", "two-tower-tier2", "--data", a.data, "-o", f"{tmp}/tier2"])
            lt, lt_rss = timed(LLMRANK + ["cv", "lt-ttd", "--k", "5", "--data", a.data, "-o", f"{tmp}/lt"])
            print(f"10-fold CV on MMLU-Pro: lt-ttd {lt / 60:.1f} min (goal <= 15), two-tower-tier2 {base / 60:.1f} min: "
                  f"{lt / base:.2f}x tier2; peak RSS <= {lt_rss:.2f} GB (goal < 4; tier2's run: {base_rss:.2f})")
        scoring_table(a.data)
        if (a.dl_data / "data.json").exists():
            t, rss = timed(LLMRANK + ["train", "lt-ttd", "--data", a.dl_data, "--all", "--k", "100", "-o",
                                      f"{tmp}/dl"])
            print(f"training on DL20 ({a.dl_data}), K = 100: {t / 60:.1f} min (goal <= 10)")


if __name__ == "__main__":
    main()
