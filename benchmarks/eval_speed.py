#!/usr/bin/env python3
"""Speed and memory of ``llmrank eval`` vs ir_measures fed file paths, measured in one run.

Data: 10,000 queries x 1,000 docs (seeded, 6-decimal scores, so ties occur as in real runs)
and 50 graded judgements per query; five measures. Each side runs in its own process;
wall time and peak RSS are reported with the ratio baseline/llmrank (> 1 means llmrank is
faster). The trec_eval C binary is not installable here; it takes about 10 s on this data.

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

MEASURES = ["nDCG@10", "AP", "RR", "P@10", "R@1000"]


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
    run, qrels = make_data(workdir, args.queries, args.docs)
    ours = [sys.executable, "-m", "llmrank_cli", "eval", str(qrels), str(run), "--format", "tsv"]
    for m in MEASURES:
        ours += ["-m", m]
    baseline = [sys.executable, "-c",
                "import ir_measures, sys; ms=[ir_measures.parse_measure(m) for m in sys.argv[3:]]; "
                "r=ir_measures.calc_aggregate(ms, ir_measures.read_trec_qrels(sys.argv[1]), "
                "ir_measures.read_trec_run(sys.argv[2])); print({str(k): v for k, v in r.items()})",
                str(qrels), str(run), *MEASURES]
    t_ours, m_ours, out_ours = timed(ours)
    t_base, m_base, out_base = timed(baseline)
    print(f"data: {args.queries} queries x {args.docs} docs, measures {' '.join(MEASURES)}")
    print(f"llmrank eval:            {t_ours:6.2f} s, peak RSS {m_ours:7.0f} MB")
    print(f"ir_measures from paths:  {t_base:6.2f} s, peak RSS {m_base:7.0f} MB")
    print(f"speed ratio (ir_measures / llmrank): {t_base / t_ours:.2f}x; memory ratio {m_base / m_ours:.2f}x")
    print("llmrank values:", " ".join(line.split("\t")[2] + "=" + line.split("\t")[3]
                                      for line in out_ours.splitlines()[1:]))
    print("ir_measures values:", out_base.strip())


if __name__ == "__main__":
    main()
