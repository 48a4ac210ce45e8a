#!/usr/bin/env python3
"""Speed and memory of ``llmrank eval --format trec`` vs the reference trec_eval 10.0, one run.

trec_eval is compiled from ../shared/tools (NIST's C source of release 10.0). Data:
10,000 queries x 1,000 docs (seeded, 6-decimal scores, so ties occur as in real runs) and 50
graded judgements per query. Two measure sets: trec_eval's default output and ``-m all_trec``.
Each side runs in its own process; the outputs must be identical (whitespace aside), and the
wall time, peak RSS and ratio llmrank / trec_eval are printed (goal: <= 0.5, i.e. twice as fast).

Usage: python benchmarks/eval_speed.py [--queries N] [--docs N] [--workdir DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parents[1].parent / "shared" / "tools"


def make_data(workdir: Path, n_q: int, n_d: int) -> tuple[Path, Path]:
    run, qrels = workdir / f"run-{n_q}x{n_d}.txt", workdir / f"qrels-{n_q}.txt"
    if run.exists() and qrels.exists():
        return run, qrels
    rng = np.random.default_rng(0)
    with open(run, "w") as f, open(qrels, "w") as g:
        for q in range(n_q):
            scores = np.sort(rng.random(n_d))[::-1]
            docs = rng.choice(200_000, n_d, replace=False)
            f.write("".join(f"{q} Q0 D{d} {i + 1} {s:.6f} bench\n" for i, (d, s) in enumerate(zip(docs, scores))))
            judged = np.r_[rng.choice(docs[:200], 30, replace=False), rng.choice(200_000, 20, replace=False)]
            g.write("".join(f"{q} 0 D{d} {rng.integers(0, 4)}\n" for d in dict.fromkeys(judged)))
    return run, qrels


_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB) of cmd alone (a wrapper process reports its child's peak), stdout."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, *cmd], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    return elapsed, int(done.stderr.strip().splitlines()[-1]) / 1024, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=1_000)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "llmrank-bench"))
    args = ap.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    trec_eval = subprocess.run(["bash", str(TOOLS / "build-trec-eval.sh"), str(workdir / "trec_eval"), "10.0"],
                               check=True, capture_output=True, text=True).stdout.strip()
    run, qrels = make_data(workdir, args.queries, args.docs)
    print(f"data: {args.queries} queries x {args.docs} docs ({args.queries * args.docs:,} run lines)")
    for name, measures in (("default output", []), ("-m all_trec", ["-m", "all_trec"])):
        t_ref, m_ref, out_ref = timed([trec_eval, *measures, str(qrels), str(run)])
        t_ours, m_ours, out_ours = timed([sys.executable, "-m", "llmrank_cli", "eval", "--format", "trec",
                                          *measures, str(qrels), str(run)])
        same = [line.split() for line in out_ref.splitlines()] == [line.split() for line in out_ours.splitlines()]
        print(f"{name}: trec_eval {t_ref:6.2f} s, {m_ref:6.0f} MB | llmrank {t_ours:6.2f} s, {m_ours:6.0f} MB | "
              f"llmrank / trec_eval {t_ours / t_ref:.2f}x (goal <= 0.5) | outputs identical: {same}")


if __name__ == "__main__":
    main()
