#!/usr/bin/env python3
"""The listwise reranker on a served model (issue #43's goals), SmolLM2-135M-Instruct on this
machine, every figure against a baseline measured in the same run:

1. DL19's 43 queries, BM25 top 20 (one 20-passage window a query), uncached, through llama.cpp's
   OpenAI-compatible server (``llama-cpp-python[server]``, the offline Q4_1 GGUF) at
   ``--concurrency`` 1, 2 and 4: wall, windows/s, prompt+completion tokens/s; the ratio of
   concurrency 2 to 1 (goal >= 1.5x, or the reason it is not).
2. The same windows on the transformers engine (the GGUF dequantised to fp32), uncached, for the
   first ``--local-queries`` queries: windows/s, and the served engine's speed-up over it.
3. Agreement: each query's top-20 order through the server against transformers' (the
   recipe's runs/dl19-listwise-top20.run when present, else the local run of step 2), and the
   nDCG@10 of both.
4. A fully cached rerun through the server: wall and the calls it made (goal: 0).

Usage: python benchmarks/llm_serving.py [--local-queries 5] [--concurrency 1 2 4]
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DL19 = ROOT.parent / "shared" / "data" / "trec-dl" / "dl19"
MODEL = "smollm2-135m"


def start_server() -> tuple[subprocess.Popen, str]:
    from llmrank_cli.kit.resolve import resolve_causal_lm

    folder, gguf = resolve_causal_lm(MODEL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(Path(folder) / gguf),
                               "--model_alias", MODEL, "--n_ctx", "8192", "--n_threads", "2", "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/models")
            if conn.getresponse().status == 200:
                return server, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    raise SystemExit("llama.cpp's server did not come up")


def rerank(out: Path, run: str, *flags: str) -> dict:
    """One `llmrank rerank --kind listwise` of DL19's top 20: wall seconds and the manifest."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", "rerank", "--kind", "listwise", "--model", MODEL,
                    "--run", run, "--topics", str(DL19 / "topics.tsv"), "--corpus", str(DL19 / "passages.jsonl"),
                    "--depth", "20", "-o", str(out), *flags], check=True)
    return {"wall": time.perf_counter() - began, **json.loads(Path(f"{out}.manifest.json").read_text())["config"]}


def orders(path: Path) -> dict[str, list[str]]:
    from llmrank_cli.formats import read_run

    out: dict[str, list[str]] = {}
    for r in read_run(str(path)).output_order().to_pylist():
        out.setdefault(r["qid"], []).append(r["docno"])
    return {q: ds[:20] for q, ds in out.items()}


def ndcg10(path: Path) -> float:
    from llmrank_cli.evaluation import evaluate, parse_measures
    from llmrank_cli.formats import read_qrels, read_run

    result = evaluate(read_qrels(str(DL19 / "qrels.txt")), read_run(str(path)), parse_measures(["nDCG@10"]))
    return float(result.aggregate()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--local-queries", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llm-serving-"))
    os.environ["LLMRANK_CACHE"] = str(work / "cache")
    bm25 = str(DL19 / "bm25-top100.run")
    server, url = start_server()
    try:
        print("| engine | queries | wall s | windows/s | tokens/s |\n|---|---|---|---|---|")
        served = {}
        for c in args.concurrency:
            m = served[c] = rerank(work / f"served-c{c}.run", bm25, "--backend", "openai", "--base-url", url,
                                   "--concurrency", str(c), "--no-cache")
            print(f"| llama.cpp server, concurrency {c} | {m['queries']} | {m['wall']:.1f} | "
                  f"{m['windows'] / m['wall']:.2f} | {(m['prompt_tokens'] + m['completion_tokens']) / m['wall']:.0f} |")
        first = args.concurrency[0]
        cached = rerank(work / "cached.run", bm25, "--backend", "openai", "--base-url", url, "--concurrency", "4")
        rerun = rerank(work / "rerun.run", bm25, "--backend", "openai", "--base-url", url, "--concurrency", "4")
    finally:
        server.kill()
        server.wait()
    few = work / "few.run"
    with open(bm25) as src, open(few, "w") as dst:
        qids = []
        for line in src:
            q = line.split()[0]
            if q not in qids:
                qids.append(q)
            if len(qids) <= args.local_queries and q in qids[:args.local_queries]:
                dst.write(line)
    local = rerank(work / "local.run", str(few), "--no-cache")
    print(f"| transformers (fp32), 2 threads | {local['queries']} | {local['wall']:.1f} | "
          f"{local['windows'] / local['wall']:.2f} | "
          f"{(local['prompt_tokens'] + local['completion_tokens']) / local['wall']:.0f} |")
    rate = {c: m["windows"] / m["wall"] for c, m in served.items()}
    if 1 in rate and 2 in rate:
        print(f"\nconcurrency 2 / 1: {rate[2] / rate[1]:.2f}x windows/s (goal >= 1.5x)")
    print(f"served (concurrency {first}) / transformers: {rate[first] / (local['windows'] / local['wall']):.1f}x "
          f"windows/s (whole commands, start-up included)")
    print(f"cached rerun: {rerun['wall']:.1f} s, {rerun['calls']} calls, {rerun['cached_calls']} of "
          f"{rerun['windows']} windows from the cache (first run: {cached['calls']} calls)")
    recipe = ROOT / "runs" / "dl19-listwise-top20.run"
    reference = recipe if recipe.exists() else work / "local.run"
    a, b = orders(work / f"served-c{first}.run"), orders(reference)
    same = sum(a[q] == b[q] for q in b if q in a)
    top10 = sum(a[q][:10] == b[q][:10] for q in b if q in a)
    print(f"agreement with transformers ({reference.name}): {same}/{len(b)} queries' top-20 orders equal, "
          f"{top10}/{len(b)} top-10 orders; nDCG@10 served {ndcg10(work / f'served-c{first}.run'):.4f}, "
          f"transformers {ndcg10(reference):.4f}, BM25 {ndcg10(Path(bm25)):.4f}")


if __name__ == "__main__":
    main()
