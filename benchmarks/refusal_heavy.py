#!/usr/bin/env python3
"""Which LLM rankers survive a useless prior: a shared set with responses re-shaped into the
TREC Million LLMs 2026 regime, where most discovery answers are refusals.

Arena-bench-v1 (300 real prompts x 16 LLMs, GPT-4 judged answers) is clustered into TOPICS topics
by its prompts' MiniLM embeddings (k-means). Each LLM is made an expert on EXPERT_TOPICS of them,
dealt round-robin so every topic has experts: it keeps its real answer and its label on its
topics' prompts and answers "I don't know." (label 0) elsewhere, so about
1 - EXPERT_TOPICS/TOPICS of the answers are refusals (printed). Half the prompts become the
discovery file (answers, no labels), the other half the dev queries with their qrels, in the
track's exact layout; then `prepare mllm` and 10-fold CV of prior, random, knn, profile (both
variants) and ltr (alone and with --stack profile), evaluated against the prior with paired
t-tests (Holm). The experts are spread evenly, so the prior carries next to nothing: a ranker
earns its place by reading the query. Not a target to tune to.

Usage: python benchmarks/refusal_heavy.py [--work out/refusal-heavy] [--csv runs/mllm-refusal-heavy.eval.csv]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ARENA = ROOT.parent / "shared" / "data" / "llm-ranking" / "arena-bench-v1"
TOPICS, EXPERT_TOPICS, SEED = 10, 2, 0
REFUSAL = "I don't know."
RANKERS = [("prior", []), ("random", []), ("knn", []), ("profile", []), ("profile", ["--documents", "answers"]),
           ("ltr", []), ("ltr", ["--stack", "profile"])]


def llmrank(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"llmrank {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def reshape(work: Path) -> float:
    """Write the track's files for the re-shaped set into ``work``; the share of refusals."""
    from sklearn.cluster import KMeans

    from llmrank_cli.kit.encoders import encode_texts

    topics = dict(line.rstrip("\n").split("\t", 1) for line in open(ARENA / "topics.tsv"))
    answers: dict[str, dict[str, str]] = {}
    for line in open(ARENA / "responses.jsonl"):
        r = json.loads(line)
        answers.setdefault(r["qid"], {})[r["llm"]] = r["response"]
    labels = {}
    for line in open(ARENA / "qrels.txt"):
        qid, _, llm, label = line.split()
        labels[qid, llm] = int(label)
    qids = sorted(q for q in topics if q in answers)
    llms = sorted({llm for a in answers.values() for llm in a})
    vectors = encode_texts([topics[q] for q in qids], "all-MiniLM-L6-v2")
    topic_of = dict(zip(qids, KMeans(TOPICS, n_init=10, random_state=SEED).fit_predict(vectors)))
    shuffled = np.random.default_rng(SEED).permutation(TOPICS)  # dealt in turn: every topic gets experts
    expert = {llm: {int(shuffled[(i * EXPERT_TOPICS + j) % TOPICS]) for j in range(EXPERT_TOPICS)}
              for i, llm in enumerate(llms)}
    work.mkdir(parents=True, exist_ok=True)
    discovery, refused, given = {}, 0, 0
    with open(work / "llm_dev_data.tsv", "w") as dev, open(work / "llm_dev_qrels.txt", "w") as qrels:
        for n, q in enumerate(qids):
            kept = {llm: text if topic_of[q] in expert[llm] else REFUSAL for llm, text in answers[q].items()}
            refused += sum(text == REFUSAL for text in kept.values())
            given += len(kept)
            if n % 2:
                discovery[q] = {"query": topics[q], "responses": kept}
                continue
            dev.write(f"{q}\t{topics[q]}\n")
            qrels.write("".join(f"{q} 0 {llm} {labels.get((q, llm), 0) if kept.get(llm, REFUSAL) != REFUSAL else 0}\n"
                                for llm in llms))
    (work / "llm_discovery_data.json").write_text(json.dumps(discovery))
    return refused / given


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default=str(ROOT / "out" / "refusal-heavy"))
    ap.add_argument("--csv", default=str(ROOT / "runs" / "mllm-refusal-heavy.eval.csv"))
    a = ap.parse_args()
    work = Path(a.work)
    share = reshape(work)
    print(f"arena-bench-v1 in the 2026 shape: {TOPICS} topics, {EXPERT_TOPICS} per LLM, {share:.0%} refusals")
    data = work / "data"
    if not data.exists():
        llmrank("prepare", "mllm", "--queries", str(work / "llm_dev_data.tsv"), "--qrels",
                str(work / "llm_dev_qrels.txt"), "--discovery", str(work / "llm_discovery_data.json"),
                "--gains", "0=0,1=1,2=2", "-o", str(data))
    runs = []
    for name, flags in RANKERS:
        label = name + "".join(f"-{f.lstrip('-')}" for f in flags)
        out = work / "cv" / label
        if not (out / f"{name}.run").exists():
            llmrank("cv", name, "--data", str(data), *flags, "-o", str(out))
        runs.append(str(work / "runs" / f"{label}.run"))
        Path(runs[-1]).parent.mkdir(exist_ok=True)
        Path(runs[-1]).write_bytes((out / f"{name}.run").read_bytes())
    table = llmrank("eval", str(data / "qrels.txt"), *runs, "--baseline", runs[0], "-m", "nDCG@10", "-m", "nDCG@5",
                    "-m", "RR", "--format", "csv")
    Path(a.csv).write_text(table)
    subprocess.run([sys.executable, str(ROOT / "commands" / "provenance.py"), a.csv], check=True)  # its record
    print(llmrank("eval", str(data / "qrels.txt"), *runs, "--baseline", runs[0], "-m", "nDCG@10", "-m", "RR"))


if __name__ == "__main__":
    main()
