#!/usr/bin/env python3
"""Time and size of ``llmrank report`` on TREC DL 2019 (goal: <= 3 s, <= 5 MB), against ``llmrank
eval`` of the same eight runs with the same baseline (the numbers the page holds, as a table).

The runs: the four shared first-stage runs and four of the project's rerankers (runs/), with
topics, passages and categories (each query's first word), as commands/report-dl19.sh makes the
README's page. Each command runs in its own process, best of --repeat; the peak RSS of each is
printed too. A 10,000-query page (two random runs of 100) shows how the page keeps its size.

Usage: python benchmarks/report_speed.py [--repeat N]
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DL19 = ROOT.parent / "shared" / "data" / "trec-dl" / "dl19"
LLMRANK = str(ROOT / ".venv" / "bin" / "llmrank")
RUNS = [str(DL19 / f"{r}-top100.run") for r in ("bm25", "bm25-rm3", "splade-pp-ed", "tasb")] + \
       [str(ROOT / "runs" / f"dl19-{r}.run") for r in ("minilm-bi", "icr-top100", "lr-point-s1", "listwise-top20")]


def timed(args: list[str], repeat: int) -> tuple[float, float]:
    """(best wall seconds, peak RSS in MiB of the children) of ``args``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def big_runs(workdir: Path, n_q: int = 10_000, n_d: int = 100) -> list[str]:
    rng = np.random.default_rng(0)
    with open(workdir / "qrels.txt", "w") as f:
        f.writelines(f"{q} 0 D{d} {rng.integers(0, 3)}\n" for q in range(n_q) for d in range(0, n_d, 4))
    paths = []
    for name in ("a", "b"):
        paths.append(str(workdir / f"{name}.run"))
        with open(paths[-1], "w") as f:
            f.writelines(f"{q} Q0 D{d} 0 {rng.random():.6f} {name}\n" for q in range(n_q) for d in range(n_d))
    return [str(workdir / "qrels.txt")] + paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        categories = work / "categories.tsv"
        categories.write_text("".join(f"{q}\t{t.split()[0]}\n" for q, t in
                                      (line.split("\t") for line in (DL19 / "topics.tsv").read_text().splitlines())))
        common = [str(DL19 / "qrels.txt"), *RUNS, "--baseline", RUNS[0]]
        eval_s, _ = timed([LLMRANK, "eval", *common], repeat)
        page = work / "dl19.html"
        report_s, rss = timed([LLMRANK, "--quiet", "report", *common, "--topics", str(DL19 / "topics.tsv"), "--corpus",
                               str(DL19 / "passages.jsonl"), "--by", str(categories), "-o", str(page)], repeat)
        size = page.stat().st_size / 1e6
        print(f"DL19, 8 runs: report {report_s:.2f} s (goal <= 3), {size:.2f} MB (goal <= 5), peak RSS {rss:.0f} MiB; "
              f"eval of the same {eval_s:.2f} s; report / eval {report_s / eval_s:.1f}x")
        big = big_runs(work)
        page = work / "big.html"
        big_s, rss = timed([LLMRANK, "--quiet", "report", *big, "-o", str(page)], 1)
        print(f"10,000 queries x 100, 2 runs: report {big_s:.2f} s, {page.stat().st_size / 1e6:.2f} MB "
              f"(200 queries drawn, 1,000 bars), peak RSS {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
