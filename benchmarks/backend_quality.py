#!/usr/bin/env python3
"""What each --backend/--quantize keeps of a model's quality and costs in memory: `llmrank
rerank` of DL19's BM25 top 100 on torch fp32 (the baseline, in the same run) and on onnx and
openvino, fp32 and int8; nDCG@10 with a paired t-test against torch, the largest score
difference and each command's peak RSS: the first run of a backend (exporting included) and a
second (the export cached; torch: the same run again).

Usage: python benchmarks/backend_quality.py [--model all-MiniLM-L6-v2 --kind bi] [--threads 1]
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "trec-dl" / "dl19"
CASES = (("torch", "none"), ("onnx", "none"), ("onnx", "int8"), ("openvino", "none"), ("openvino", "int8"))


def rerank(model: str, kind: str, backend: str, quantize: str, out: Path) -> float:
    """Peak RSS in GiB of one `llmrank rerank` (GNU time's maximum resident set)."""
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "llmrank_cli", "--quiet", "rerank", "--run",
           str(DATA / "bm25-top100.run"), "--topics", str(DATA / "topics.tsv"), "--corpus",
           str(DATA / "passages.jsonl"), "--model", model, "--kind", kind, "--device", "cpu", "--backend", backend,
           "--quantize", quantize, "-o", str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return int(done.stderr.strip().splitlines()[-1]) / 2**20


def scores(path: Path) -> dict:
    return {(r[0], r[2]): float(r[4]) for r in (line.split() for line in path.read_text().splitlines())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--kind", default="bi")
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    os.environ["LLMRANK_CACHE"] = str(work / "cache")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    runs, rss, cached = [], {}, {}
    for backend, quantize in CASES:
        runs.append(work / f"{backend}-{quantize}.run")
        rss[runs[-1]] = rerank(args.model, args.kind, backend, quantize, runs[-1])  # export included
        cached[runs[-1]] = rerank(args.model, args.kind, backend, quantize, work / "again.run")  # the export cached
    report = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", "eval", str(DATA / "qrels.txt"),
                             *map(str, runs), "--baseline", str(runs[0]), "-m", "nDCG@10", "-f", "tsv"],
                            check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in report.splitlines() if line.count("\t") >= 3]
    value = {r[0]: r[3] for r in rows if r[1] == "all"}
    test = {r[0]: f"delta {float(r[2]):+.4f} (p {float(r[3]):.3g})" for r in rows if len(r) == 8 and r[0] != "run"}
    print(f"DL19 BM25 top 100 reranked by {args.model} (--kind {args.kind}); baseline: torch fp32, same run")
    reference = scores(runs[0])
    for run in runs:
        got = scores(run)
        diff = max(abs(got[k] - reference[k]) for k in reference)
        print(f"{run.stem:14} nDCG@10 {value[str(run)]} {test.get(str(run), 'baseline'):26} "
              f"max |score diff| {diff:.2e}  peak RSS {rss[run]:.2f} GiB, {cached[run]:.2f} GiB once exported")


if __name__ == "__main__":
    main()
