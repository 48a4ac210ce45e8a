#!/usr/bin/env python3
"""TREC Million LLMs files at the track's scale: ``prepare mllm`` time and peak RSS on synthetic
files of both editions' shapes, against loading the same discovery JSON whole (``json.load``,
the baseline a streaming reader must beat on memory); then ``cv ltr --stack profile`` (10 folds,
the profile ranker's BM25 over the discovery answers as a feature), ``train`` of the same on every
dev query, and ``rank`` of the test queries into the TREC run the track takes, which ``validate
--pool`` must accept: time and peak RSS of each (goals: each <= 2 GiB, the cv <= 15 min).

Shapes: 2026: 150 LLMs, 7,759 discovery queries with token log-probs in a metadata file, 84%
"I don't know" refusals, 322 dev queries; 2025: 1,131 LLMs, 14,950 discovery queries (17M
responses), 342 dev queries. LLMs are experts on a few of 20 topics: they answer those and are
the ones the qrels mark best (1) and second best (2).

Usage: python benchmarks/mllm_scale.py [--edition 2026|2025|both] [--work DIR] [--scale 1.0]
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

EDITIONS = {"2026": dict(llms=150, discovery=7759, dev=322, metadata=True),
            "2025": dict(llms=1131, discovery=14950, dev=342, metadata=False)}
TOPICS = 20
WORDS = ("protein enzyme orbit tax court poem melody river tensor market virus plague rocket law verb "
         "prime graph sonnet atom cell bond yield flood storm code loop").split()


def _query(rng, topic: int) -> str:
    words = rng.choice(WORDS, 8)
    return f"topic{topic} question about " + " ".join(words)


def generate(edition: str, work: Path, scale: float) -> Path:
    """Write the edition's dev queries, full-grid qrels, discovery (and metadata) files."""
    shape = EDITIONS[edition]
    n_llm, n_disc, n_dev = shape["llms"], int(shape["discovery"] * scale), int(shape["dev"] * scale)
    rng = np.random.default_rng(0)
    out = work / edition
    out.mkdir(parents=True, exist_ok=True)
    llms = [f"llm-{i:04d}" for i in range(n_llm)]
    expert = rng.random((n_llm, TOPICS)) < 0.16  # about 84% refusals overall
    with open(out / "llm_dev_data.tsv", "w") as f, open(out / "llm_dev_qrels.txt", "w") as q, \
            open(out / "test_queries.tsv", "w") as t:
        for i in range(n_dev):
            topic = int(rng.integers(TOPICS))
            f.write(f"dev{i}\t{_query(rng, topic)}\n")
            t.write(f"test{i}\t{_query(rng, topic)}\n")
            score = expert[:, topic] + rng.random(n_llm) * 0.9
            best = np.argsort(-score)[:2 * max(1, n_llm // 27)]  # ~3.7% best, ~3.8% second best
            label = np.zeros(n_llm, int)
            label[best[: len(best) // 2]], label[best[len(best) // 2:]] = 1, 2
            q.write("".join(f"dev{i} 0 {llm} {label[j]}\n" for j, llm in enumerate(llms)))
    files = [("llm_discovery_data.json", False)] + ([("llm_discovery_metadata.json", True)] if shape["metadata"] else [])
    topics = rng.integers(TOPICS, size=n_disc)
    for name, logprobs in files:
        with open(out / name, "w") as f:
            f.write("{")
            for i in range(n_disc):
                rq = np.random.default_rng(i)
                answers = {}
                for j, llm in enumerate(llms):
                    text = f"An answer on topic {topics[i]} by {llm}: " + " ".join(rq.choice(WORDS, 6)) \
                        if expert[j, topics[i]] else "I don't know"
                    if logprobs:
                        n = 4 if text == "I don't know" else 30
                        answers[llm] = {"response": text, "logprobs": np.round(-rq.random(n) * 2, 4).tolist()}
                    else:
                        answers[llm] = text
                record = {"query": _query(np.random.default_rng(10**6 + i), int(topics[i])), "responses": answers}
                f.write(("," if i else "") + json.dumps(f"d{i}") + ":" + json.dumps(record))
            f.write("}")
    return out


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS GiB, stderr) of a command under /usr/bin/time -v."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 2**20
    return seconds, rss, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edition", default="both", choices=("2026", "2025", "both"))
    ap.add_argument("--work", default="/tmp/llmrank-mllm-scale")
    ap.add_argument("--scale", type=float, default=1.0, help="Fraction of the queries (a quick look: 0.1).")
    args = ap.parse_args()
    llmrank = [sys.executable, "-m", "llmrank_cli", "--quiet"]
    for edition in (("2026", "2025") if args.edition == "both" else (args.edition,)):
        t0 = time.perf_counter()
        src = generate(edition, Path(args.work), args.scale)
        size = sum(f.stat().st_size for f in src.glob("llm_discovery_*.json")) / 2**30
        print(f"== {edition}: files generated in {time.perf_counter() - t0:.0f} s, discovery JSON {size:.2f} GiB")
        whole_s, whole_rss, _ = timed([sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1]))",
                                       str(src / "llm_discovery_data.json")])
        data = Path(args.work) / f"data-{edition}"
        extra = ["--metadata", str(src / "llm_discovery_metadata.json")] if EDITIONS[edition]["metadata"] else []
        subprocess.run(["rm", "-rf", str(data)])
        prep_s, prep_rss, _ = timed([*llmrank, "prepare", "mllm", "--queries", str(src / "llm_dev_data.tsv"),
                                     "--qrels", str(src / "llm_dev_qrels.txt"), "--discovery",
                                     str(src / "llm_discovery_data.json"), *extra, "-o", str(data)])
        print(f"prepare mllm: {prep_s:.0f} s, peak RSS {prep_rss:.2f} GiB (goal <= 2)  |  json.load of the discovery "
              f"file alone: {whole_s:.0f} s, {whole_rss:.2f} GiB  ->  RSS ratio {prep_rss / whole_rss:.2f}x")
        stack = ["ltr", "--data", str(data), "--stack", "profile"]
        cv_s, cv_rss, _ = timed([*llmrank, "cv", *stack, "-o", str(Path(args.work) / f"cv-{edition}")])
        print(f"cv ltr --stack profile (10 folds): {cv_s:.0f} s (goal <= 900), peak RSS {cv_rss:.2f} GiB")
        model = Path(args.work) / f"ltr-{edition}"
        subprocess.run(["rm", "-rf", str(model)])
        train_s, train_rss, _ = timed([*llmrank, "train", *stack, "--all", "-o", str(model)])
        run = Path(args.work) / f"bench-{edition}.run"
        rank_s, rank_rss, _ = timed([*llmrank, "rank", "--model", str(model), "--topics",
                                     str(src / "test_queries.tsv"), "--k", str(EDITIONS[edition]["llms"]), "--tag",
                                     f"bench-{edition}", "-o", str(run)])
        checked = subprocess.run([*llmrank[:-1], "validate", str(run), "--pool", str(data), "--topics",
                                  str(src / "test_queries.tsv")], capture_output=True, text=True)
        print(f"train --all: {train_s:.0f} s, {train_rss:.2f} GiB; rank: {rank_s:.0f} s, {rank_rss:.2f} GiB; "
              f"validate --pool: {'accepted' if checked.returncode == 0 else 'REFUSED: ' + checked.stderr.strip()}")


if __name__ == "__main__":
    main()
