#!/usr/bin/env python3
"""``llmrank eval`` against every tool users choose between, files to numbers, 5 measures
(nDCG@10, AP, P@10, R@1000, RR), 2 cores: trec_eval 9.0.8 (C), pytrec_eval, ir_measures, ranx
(cold: its numba compile in a fresh cache) and llmrank (the CLI, and ``llmrank.evaluate``), each
also warm: the best of 5 more calls in one process (--repeat at 10k queries); every process the
best of --repeat runs (default 3). Three sizes: one DL19 run (4,300 lines), 10k
queries x 100, 10k x 1,000 (seeded, as eval_speed.py makes them). Every tool's means are checked
against trec_eval's (4 decimals; where a peer differs, e.g. ranx's tie order, the table says by
how much). Goals: llmrank <= 0.5x the fastest peer at 10k x 1,000; on DL19 the fastest Python
tool as a process and warm.

The peers live in their own environment (build/peers-venv, made on first use), never in
llmrank's dependencies. Usage: python benchmarks/eval_peers.py [--sizes dl19,10kx100,10kx1000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval_speed import TOOLS, make_data

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "build" / "peers-venv"
DL19 = ROOT.parent / "shared" / "data" / "trec-dl" / "dl19"
TREC_EVAL_MEASURES = ["-m", "ndcg_cut.10", "-m", "map", "-m", "P.10", "-m", "recall.1000", "-m", "recip_rank"]
NAMES = ["nDCG@10", "AP", "P@10", "R@1000", "RR"]
# Each tool's script defines once(): files to means; then FOOTER prints {"means": [...], "warm":
# the best of argv[3] more calls (files to numbers) in the same process}.
FOOTER = """
def timed_once():
    start = time.perf_counter(); once(); return time.perf_counter() - start
means = once()
print(json.dumps({"means": means, "warm": min((timed_once() for _ in range(int(sys.argv[3]))), default=None)}))
"""
SCRIPTS = {
    "pytrec_eval": """
import json, sys, time, pytrec_eval
def once():
    with open(sys.argv[1]) as f: qrels = pytrec_eval.parse_qrel(f)
    with open(sys.argv[2]) as f: run = pytrec_eval.parse_run(f)
    measures = {"ndcg_cut.10", "map", "P.10", "recall.1000", "recip_rank"}
    per = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    keys = ["ndcg_cut_10", "map", "P_10", "recall_1000", "recip_rank"]
    return [sum(v[k] for v in per.values()) / len(per) for k in keys]
""",
    "ir_measures": """
import json, sys, time, ir_measures
from ir_measures import nDCG, AP, P, R, RR
measures = [nDCG@10, AP, P@10, R@1000, RR]
def once():
    qrels, run = ir_measures.read_trec_qrels(sys.argv[1]), ir_measures.read_trec_run(sys.argv[2])
    got = ir_measures.calc_aggregate(measures, qrels, run)
    return [got[m] for m in measures]
""",
    "ranx": """
import json, sys, time
from ranx import Qrels, Run, evaluate
def once():
    got = evaluate(Qrels.from_file(sys.argv[1], kind="trec"), Run.from_file(sys.argv[2], kind="trec"),
                   ["ndcg@10", "map", "precision@10", "recall@1000", "mrr"])
    return [got[k] for k in ["ndcg@10", "map", "precision@10", "recall@1000", "mrr"]]
""",
    "llmrank.evaluate": """
import json, sys, time, llmrank
def once():
    got = llmrank.evaluate(sys.argv[1], sys.argv[2], ["nDCG@10", "AP", "P@10", "R@1000", "RR"], trec_eval="9.0.8")
    return [float(got[m].iloc[0]) for m in ["nDCG@10", "AP", "P@10", "R@1000", "RR"]]
""",
}


def peers_python() -> str:
    python = PEERS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ranx", "pytrec-eval-terrier", "ir-measures"],
                       check=True)
    return str(python)


def timed(cmd: list[str], env: dict | None = None, repeat: int = 1) -> tuple[float, str]:
    """(best wall seconds of ``repeat`` runs, stdout): this VM's page faults cost from 0.2 to 2 s
    of system time on the same 10M-line call, so one run says little."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best, done.stdout


def trec_eval_means(out: str) -> list[float]:
    got = {line.split()[0]: float(line.split()[2]) for line in out.splitlines()}
    return [got[k] for k in ("ndcg_cut_10", "map", "P_10", "recall_1000", "recip_rank")]


def measure(qrels: Path, run: Path, peers: str, llmrank_python: str, workdir: Path, repeat: int,
            warm: int) -> list[tuple[str, float, list]]:
    """(tool, seconds from files to numbers, means) for every tool and mode: processes the best of
    ``repeat`` (ranx cold once), warm calls the best of ``warm``."""
    trec_eval = subprocess.run(["bash", str(TOOLS / "build-trec-eval.sh"), str(workdir / "trec_eval-9.0.8"), "9.0.8"],
                               check=True, capture_output=True, text=True).stdout.strip()
    rows = []
    t, out = timed([trec_eval, *TREC_EVAL_MEASURES, str(qrels), str(run)], repeat=repeat)
    rows.append(("trec_eval 9.0.8 (C)", t, trec_eval_means(out)))
    t, out = timed([llmrank_python, "-m", "llmrank_cli", "eval", "--trec-eval", "9.0.8", "--format", "trec",
                    *TREC_EVAL_MEASURES, str(qrels), str(run)], repeat=repeat)
    rows.append(("llmrank eval (CLI)", t, trec_eval_means(out)))
    for tool, script in SCRIPTS.items():
        cmd = [llmrank_python if tool.startswith("llmrank") else peers, "-c", script + FOOTER, str(qrels), str(run)]
        if not tool.startswith("llmrank"):  # one call a process; ranx cold: once, numba compiling in a fresh cache
            with tempfile.TemporaryDirectory() as cache:
                t, out = timed(cmd + ["0"], {**os.environ, "NUMBA_CACHE_DIR": cache}, 1 if tool == "ranx" else repeat)
            rows.append((f"{tool} (process{', cold' if tool == 'ranx' else ''})", t, json.loads(out)["means"]))
        got = json.loads(timed(cmd + [str(warm)])[1])
        rows.append((f"{tool} (warm, in process)", got["warm"], got["means"]))
    return rows


ALL_PYTREC = """
import sys, time, pytrec_eval
with open(sys.argv[1]) as f: qrels = pytrec_eval.parse_qrel(f)
with open(sys.argv[2]) as f: run = pytrec_eval.parse_run(f)
pytrec_eval.RelevanceEvaluator(qrels, pytrec_eval.supported_measures).evaluate(run)
"""


def every_measure(qrels: Path, run: Path, peers: str, llmrank_python: str, workdir: Path, repeat: int) -> None:
    """trec_eval's default output and all_trec: llmrank's output must be trec_eval's, line for
    line; pytrec_eval (every measure it supports) the one peer that computes them all."""
    trec_eval = str(workdir / "trec_eval-9.0.8" / "trec_eval")
    t_peer, _ = timed([peers, "-c", ALL_PYTREC, str(qrels), str(run)], repeat=repeat)
    for name, flags in (("default output", []), ("all_trec", ["-m", "all_trec"])):
        t_ref, ref = timed([trec_eval, *flags, str(qrels), str(run)], repeat=repeat)
        t_ours, ours = timed([llmrank_python, "-m", "llmrank_cli", "eval", "--trec-eval", "9.0.8", "--format", "trec",
                              *flags, str(qrels), str(run)], repeat=repeat)
        same = [line.split() for line in ref.splitlines()] == [line.split() for line in ours.splitlines()]
        print(f"{name}: llmrank {t_ours:.2f} s, trec_eval {t_ref:.2f} s, pytrec_eval (every measure) {t_peer:.2f} s: "
              f"llmrank / fastest peer {t_ours / min(t_ref, t_peer):.2f}x; llmrank's output is trec_eval's: {same}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="dl19,10kx100,10kx1000")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each process, best taken")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "llmrank-bench"))
    args = ap.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    peers = peers_python()
    for size in args.sizes.split(","):
        if size == "dl19":
            qrels, run = DL19 / "qrels.txt", DL19 / "bm25-top100.run"
        else:
            n_q, n_d = {"10kx100": (10_000, 100), "10kx1000": (10_000, 1_000)}[size]
            run, qrels = make_data(workdir, n_q, n_d)
        rows = measure(qrels, run, peers, sys.executable, workdir, args.repeat, 5 if size == "dl19" else args.repeat)
        reference = rows[0][2]
        print(f"\n## {size}: {sum(1 for _ in open(run)):,} run lines\n")
        print("| tool | seconds | vs llmrank CLI | means equal trec_eval's (4 d.p.) |")
        print("|---|---|---|---|")
        cli = rows[1][1]
        for tool, seconds, means in rows:
            gap = max(abs(a - b) for a, b in zip(means, reference))
            worst = NAMES[max(range(5), key=lambda i: abs(means[i] - reference[i]))]
            same = "yes" if gap < 5e-5 else f"no: up to {gap:.4f} ({worst})"
            print(f"| {tool} | {seconds:.3f} | {seconds / cli:.2f}x | {same} |")
        python_peers = [(t, s) for t, s, _ in rows[2:] if not t.startswith(("llmrank", "trec_eval"))
                        and "warm" not in t]
        fastest = min(python_peers, key=lambda x: x[1])
        print(f"\nllmrank CLI / fastest Python peer as a process ({fastest[0]}): {cli / fastest[1]:.2f}x "
              f"(goal <= 0.5 at 10k x 1,000)")
        warm = {t: s for t, s, _ in rows if "warm" in t}
        fastest_warm = min((s, t) for t, s in warm.items() if not t.startswith("llmrank"))
        print(f"llmrank.evaluate warm / fastest peer warm ({fastest_warm[1]}): "
              f"{warm['llmrank.evaluate (warm, in process)'] / fastest_warm[0]:.2f}x")
        if size == "10kx1000":
            every_measure(qrels, run, peers, sys.executable, workdir, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
