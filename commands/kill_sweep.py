#!/usr/bin/env python3
"""kill -9 sweep (issue #31), longer than the suite's one kill point per job: each job on the
embedded sample is killed at many moments spread over its whole run (before its first write,
mid-chunk, between folds, during the final rename), then rerun with --resume; the result must be
byte-identical to an uninterrupted run, and nothing but the outputs may be left beside them.

Usage: python commands/kill_sweep.py [--points N] [--seed S]   (about 10 minutes at 12 points)
"""
import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLMRANK = [sys.executable, "-m", "llmrank_cli", "--quiet"]


def llmrank(*args, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*LLMRANK, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if check and done.returncode:
        raise SystemExit(f"llmrank {' '.join(map(str, args))}: {done.stderr.strip()}")
    return done


def kill_after(args: list, seconds: float) -> bool:
    """Run ``llmrank ARGS``, SIGKILL it after ``seconds``; False when it finished first."""
    process = subprocess.Popen([*LLMRANK, *map(str, args)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        process.wait(seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def jobs(work: Path) -> dict:
    """name -> (the command without -o, its -o name, the file that must match within -o)."""
    llmrank("sample", work / "s")
    passages, llm = work / "s" / "passages", work / "s" / "llm"
    llmrank("prepare", "items", "--topics", llm / "topics.tsv", "--qrels", llm / "qrels.txt", "--folds", "5",
            "-o", work / "data")
    llmrank("train", "prior", "--data", work / "data", "--all", "-o", work / "prior")
    return {
        "rerank": (["rerank", "--kind", "bi", "--model", "all-MiniLM-L6-v2", "--run", passages / "bm25.run",
                    "--topics", passages / "topics.tsv", "--corpus", passages / "corpus.jsonl", "--chunk-pairs", "1"],
                   "out.run", lambda out: out),
        "rank --model DIR": (["rank", "--model", work / "prior", "--topics", llm / "topics.tsv", "--chunk-pairs", "1"],
                             "out.run", lambda out: out),
        "cv": (["cv", "tier1", "--data", work / "data", "--epochs", "40"], "out",
               lambda out: out / "two-tower-tier1.run"),
        "train (item ranker)": (["train", "tier2", "--data", work / "data", "--fold", "0", "--epochs", "150"],
                                "out", lambda out: out / "model.pt"),
    }


def same_weights(a: Path, b: Path) -> bool:
    import torch

    x, y = torch.load(a), torch.load(b)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def sweep(name: str, command: list, output: str, result, work: Path, points: int, rng: random.Random) -> dict:
    (work / "whole").mkdir(exist_ok=True)
    whole = work / "whole" / f"{name.split()[0]}-{output}"
    started = time.monotonic()
    llmrank(*command, "-o", whole)
    seconds = time.monotonic() - started
    row = {"job": name, "seconds": round(seconds, 1), "points": points, "killed": 0, "identical": 0}
    for i in range(points):
        folder = work / f"{name.split()[0]}-cut-{i}"
        folder.mkdir()
        out = folder / output
        at = 0.9 * seconds * (i + rng.random()) / points  # one moment in each slice of the run
        if not kill_after([*command, "-o", out], at):
            shutil.rmtree(folder)
            continue
        row["killed"] += 1
        llmrank(*command, "--resume", "-o", out)
        got, want = result(out), result(whole)
        equal = same_weights(got, want) if got.suffix == ".pt" else got.read_bytes() == want.read_bytes()
        leftovers = [p.name for p in folder.rglob("*") if "partial" in p.name or "checkpoints" in p.parts]
        row["identical"] += equal and not leftovers
        if not equal or leftovers:
            print(f"{name}: killed at {at:.2f}s: {'differs' if not equal else 'left ' + ', '.join(leftovers)}")
        shutil.rmtree(folder)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [sweep(name, command, output, result, work, args.points, rng)
                for name, (command, output, result) in jobs(work).items()]
    print("| job | uninterrupted (s) | kill moments | killed before the end | of those, resumed to identical output |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['job']} | {r['seconds']} | {r['points']} | {r['killed']} | {r['identical']} |")


if __name__ == "__main__":
    main()
