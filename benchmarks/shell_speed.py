#!/usr/bin/env python3
"""Small calls at shell speed: wall time of one ``llmrank`` call on TREC DL 2019 files, against
trec_eval 10.0 (llmrank's default; built from ../shared/tools) and Python's own start, in the same run.

Goals (issue #29, 2 cores): ``eval --format trec -m ndcg_cut.10`` on DL19's BM25 run <= 0.25 s and
<= 10x trec_eval; ``--help`` <= 0.25 s; ``validate`` and ``fuse`` of two DL19 runs <= 0.3 s. That
eval takes the quick path (cli/quick.py: plain Python, no numpy, Arrow or typer); the same call with
a measure only the full engine computes (bpref) shows what any other call costs; eval's default
(a table of nDCG@10 AP RR P@10 R@100 R@1000) goes both ways too. Also: eight runs in
one ``llmrank eval`` (one qrels parse, one start) against a shell loop of eight calls; and a
synthetic run just under the quick path's size limit (formats/plain.py's PLAIN_BYTES) through both
paths, which is where the limit comes from. Each figure is the median of --rounds interleaved rounds
(this machine's speed drifts); outputs of llmrank and trec_eval must agree.

Usage: python benchmarks/shell_speed.py [--rounds 7]
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DL19 = ROOT.parent / "shared" / "data" / "trec-dl" / "dl19"
TOOLS = ROOT.parent / "shared" / "tools"
LLMRANK = shutil.which("llmrank", path=str(Path(sys.executable).parent)) or "llmrank"
RUNS = ["bm25-top100.run", "bm25-rm3-top100.run", "tasb-top100.run", "splade-pp-ed-top100.run"]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def large_run(work: Path) -> tuple[str, str]:
    """Qrels and a run of just under PLAIN_BYTES: 100 docs for each of as many queries as fit."""
    from llmrank_cli.formats.plain import PLAIN_BYTES

    rng = random.Random(0)
    lines, size, qid = [], 0, 0
    while True:
        block = [f"{qid} Q0 D{rng.randrange(10 ** 7)}x{j} {j + 1} {rng.random():.6f} t\n" for j in range(100)]
        if size + sum(map(len, block)) > PLAIN_BYTES:
            break
        lines += block
        size += sum(map(len, block))
        qid += 1
    (work / "large.run").write_text("".join(lines))
    (work / "large.qrels").write_text("".join(f"{q} 0 D{rng.randrange(10 ** 7)} {rng.randint(0, 3)}\n"
                                              for q in range(qid) for _ in range(20)))
    return str(work / "large.qrels"), str(work / "large.run")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llmrank-shell-"))
    trec_eval = subprocess.run(["bash", str(TOOLS / "build-trec-eval.sh"), str(work / "trec_eval"), "10.0"],
                               check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    qrels, runs = str(DL19 / "qrels.txt"), [str(DL19 / r) for r in RUNS]
    eight = runs + runs  # eight runs: every shared DL19 run twice
    large_qrels, large = large_run(work)
    full_engine = [sys.executable, "-c", "import sys; from llmrank_cli.cli.app import main; sys.exit(main(sys.argv[1:]))"]
    ours = subprocess.run([LLMRANK, "eval", "--format", "trec", "-m", "ndcg_cut.10", qrels, runs[0]],
                          check=True, capture_output=True, text=True).stdout.split()
    theirs = subprocess.run([trec_eval, "-m", "ndcg_cut.10", qrels, runs[0]],
                            check=True, capture_output=True, text=True).stdout.split()
    assert ours == theirs, (ours, theirs)
    cases = {
        "python -c pass (Python's start)": [sys.executable, "-c", "pass"],
        "trec_eval -m ndcg_cut.10": [trec_eval, "-m", "ndcg_cut.10", qrels, runs[0]],
        "llmrank eval --format trec -m ndcg_cut.10": [LLMRANK, "eval", "--format", "trec", "-m", "ndcg_cut.10",
                                                      qrels, runs[0]],
        "llmrank eval, full engine (+ -m bpref)": [LLMRANK, "eval", "--format", "trec", "-m", "ndcg_cut.10",
                                                   "-m", "bpref", qrels, runs[0]],
        "llmrank eval (default table)": [LLMRANK, "eval", qrels, runs[0]],
        "the same through the full engine": [*full_engine, "eval", qrels, runs[0]],
        "llmrank --help": [LLMRANK, "--help"],
        "llmrank validate (2 runs)": [LLMRANK, "validate", runs[0], runs[2]],
        "llmrank fuse (2 runs)": [LLMRANK, "fuse", runs[0], runs[2], "-o", str(work / "fused.run")],
        "llmrank convert (to MS MARCO)": [LLMRANK, "convert", runs[0], "--format", "msmarco", "-o",
                                          str(work / "run.tsv")],
        "llmrank merge (1 run)": [LLMRANK, "merge", runs[0], "-o", str(work / "merged.run")],
        "llmrank eval, 8 runs in one call": [LLMRANK, "eval", "-m", "ndcg_cut.10", "--format", "trec", qrels, *eight],
        "shell loop: 8 llmrank eval calls": ["bash", "-c", f'for r in {" ".join(eight)}; do {LLMRANK} eval --format '
                                                           f'trec -m ndcg_cut.10 {qrels} $r; done'],
        "eval of a run at the size limit, quick path": [LLMRANK, "eval", "--format", "trec", "-m", "ndcg_cut.10",
                                                        large_qrels, large],
        "the same, full engine": [*full_engine, "eval", "--format", "trec", "-m", "ndcg_cut.10", large_qrels, large],
    }
    times = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, cmd in cases.items():
            times[name].append(wall(cmd))
    median = {name: statistics.median(t) for name, t in times.items()}
    goals = {"llmrank eval --format trec -m ndcg_cut.10": 0.25, "llmrank --help": 0.25,
             "llmrank validate (2 runs)": 0.3, "llmrank fuse (2 runs)": 0.3}
    print(f"{'call':45} {'median s':>9} {'min s':>7}  goal")
    for name, value in median.items():
        goal = goals.get(name)
        print(f"{name:45} {value:9.3f} {min(times[name]):7.3f}  "
              + (f"<= {goal} {'met' if value <= goal else 'MISSED'}" if goal else ""))
    ratio = median["llmrank eval --format trec -m ndcg_cut.10"] / median["trec_eval -m ndcg_cut.10"]
    print(f"eval / trec_eval: {ratio:.1f}x (goal <= 10x: {'met' if ratio <= 10 else 'MISSED'})")
    loop = median["shell loop: 8 llmrank eval calls"] / median["llmrank eval, 8 runs in one call"]
    print(f"8 runs: a shell loop takes {loop:.1f}x one call")
    print(f"cores: {len(os.sched_getaffinity(0))}, rounds: {args.rounds}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
