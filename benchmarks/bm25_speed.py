#!/usr/bin/env python3
"""BM25 at k=1000 for 1,000 queries: ``llmrank rank`` vs pyserini on the same index, one run.

Index: the DL19 + DL20 passages (``../shared/data/trec-dl``), built with ``llmrank prepare``.
Queries: the first 1,000 MS MARCO dev-small queries. Four measurements, each its own process:
``llmrank rank`` end to end (start-up, search, writing and checking the run; plain BM25 runs
through Anserini's SearchCollection inside llmrank's JVM); pyserini's CLI
(``python -m pyserini.search.lucene``) end to end; Anserini's own Java CLI
(``io.anserini.search.SearchCollection``: JVM start, search, writing the run, all in Java) end
to end; and Anserini's ``batch_search`` alone inside a started JVM ("direct Java"). The goal:
llmrank within 1.2x of direct Java. The three runs must be byte-identical.

Usage: python benchmarks/bm25_speed.py [--queries 1000] [--workdir DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmrank_cli.retrieval import bm25 as lucene

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
JAVA_ONLY = """
import sys, time
from llmrank_cli.retrieval import bm25 as lucene
from llmrank_cli.formats import read_topics
topics = read_topics(sys.argv[2])
s = lucene.autoclass("io.anserini.search.SimpleSearcher")(sys.argv[1])
s.set_bm25(0.9, 0.4)
L = lucene.autoclass("java.util.ArrayList")
q, t = L(), L()
for x in topics:
    q.add(x.qid); t.add(x.text)
start = time.perf_counter()
r = s.batch_search(t, q, 1000, 2)
hits = sum(len(e.getValue()) for e in r.entrySet().toArray())
print(time.perf_counter() - start, hits)
"""
PYSERINI_CLI = ("import sys, runpy; from llmrank_cli.retrieval import bm25 as lucene; lucene.start_jvm(); sys.argv = sys.argv[1:]; "
                "runpy.run_module('pyserini.search.lucene', run_name='__main__')")


def anserini_jar() -> str:
    import pyserini

    return str(next((Path(pyserini.__file__).parent / "resources" / "jars").glob("anserini-*-fatjar.jar")))


def timed(cmd, **kw) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "llmrank-bm25-bench"))
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    llmrank = [sys.executable, "-m", "llmrank_cli", "--quiet"]
    index = work / "index"
    if not index.exists():
        corpus = work / "corpus.jsonl"
        seen, lines = set(), []
        for year in ("dl19", "dl20"):
            for line in open(DATA / "trec-dl" / year / "passages.jsonl"):
                pid = line.split('"', 4)[3]
                if pid not in seen:
                    seen.add(pid)
                    lines.append(line)
        corpus.write_text("".join(lines))
        subprocess.run(llmrank + ["prepare", "index", str(corpus), "-o", str(index)], check=True)
    topics = work / "topics.tsv"
    topics.write_text("".join(open(DATA / "msmarco-passage-dev-small" / "topics.tsv").readlines()[:args.queries]))
    ours, theirs = work / "llmrank.run", work / "pyserini.run"
    t_ours, _ = timed(llmrank + ["rank", "--model", "bm25", "--index", str(index), "--topics", str(topics),
                                 "--k", "1000", "--threads", "2", "--tag", "Anserini", "-o", str(ours)])
    t_cli, _ = timed([sys.executable, "-c", PYSERINI_CLI, "x", "--index", str(index), "--topics", str(topics),
                      "--output", str(theirs), "--bm25", "--hits", "1000", "--threads", "2", "--batch-size", "200"],
                     env={**os.environ, "OPENAI_API_KEY": "unused"})
    anserini = work / "anserini.run"
    t_anserini, _ = timed([str(Path(lucene.java_home()) / "bin" / "java"), "-Xmx4g", "-cp", anserini_jar(),
                           "io.anserini.search.SearchCollection", "-index", str(index),
                           "-topics", str(topics), "-topicReader", "TsvInt", "-output", str(anserini), "-bm25",
                           "-hits", "1000", "-threads", "2"])
    _, java = timed([sys.executable, "-c", JAVA_ONLY, str(index), str(topics)])
    t_java, hits = float(java.split()[0]), int(java.split()[1])
    identical = ours.read_bytes() == theirs.read_bytes() == anserini.read_bytes()
    print(f"{args.queries} queries, k=1000, {hits} hits, index of {sum(1 for _ in open(work / 'corpus.jsonl'))} passages")
    print(f"llmrank rank (end to end):          {t_ours:6.2f} s")
    print(f"pyserini CLI (end to end):          {t_cli:6.2f} s   ratio pyserini/llmrank {t_cli / t_ours:.2f}x")
    print(f"Anserini Java CLI (end to end):     {t_anserini:6.2f} s   llmrank/Anserini CLI {t_ours / t_anserini:.2f}x")
    print(f"Anserini batch_search only (Java):  {t_java:6.2f} s   llmrank/Java {t_ours / t_java:.2f}x "
          f"(llmrank includes start-up and writing {hits} lines)")
    print(f"runs byte-identical: {identical}")


if __name__ == "__main__":
    main()
