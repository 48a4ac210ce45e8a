#!/usr/bin/env python3
"""The LLM rerankers on SmolLM2-135M-Instruct (CPU), each figure against a baseline measured in
the same run (issue #42's goals):

1. Pointwise speed: llmrank's ``--kind pointwise`` against sentence-transformers'
   ``CrossEncoder.predict`` on the same causal LM and the same DL19 pairs, with the same input
   (llmrank given ST's own rendering of a pair as its prompt, ``--no-chat``), each at its
   defaults and predict also at its best batch size here: pairs/s, the ratio (goal >= 1.3x) and
   the largest score difference (predict applies a sigmoid to the same log-odds). ST cannot read
   a GGUF file: it reads the directory llmrank keeps the dequantised model in (6.).
2. Listwise throughput: DL19 queries' top 20 (one window each), uncached: windows/s, prompt and
   completion tokens/s; then the same call again, every answer from the cache.
3. Fidelity: every window of DL19 top-20 and top-100 sliding-window runs (43 queries; the
   top-100 windows as if each answer kept the order), the messages llmrank sends SmolLM2 against
   rank_llm's own rendering of the same passages (the rank-llm package's handlers).
4. Peak RSS of ``llmrank rerank`` for each kind on 5 queries (goal <= 2 GiB).
5. The ``rerank`` command fully cached, end to end (start-up included; goal <= 5 s): the recipe's
   DL19 top-100 listwise run (commands/llm-rerank.sh) repeated with the recipe's own command,
   against the user's response cache, where that run exists: wall seconds of each try, calls
   made (0 expected) and whether the bytes equal the run's.
6. Model load: SmolLM2's first load (transformers parses and dequantises the GGUF file, llmrank
   keeps the result as transformers' own files) against a later load of the kept files.

Usage: python benchmarks/llm_rerank.py [--queries 5] [--top100] [--cached-only] [--load-only]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DL19 = ROOT.parent / "shared" / "data" / "trec-dl" / "dl19"


def dl19_lists(queries: int, depth: int) -> tuple[list[str], list[list[str]], list[str]]:
    """(query texts, their BM25 top-``depth`` passages, qids) of the first DL19 queries."""
    from llmrank_cli.formats import read_run, read_topics
    from llmrank_cli.formats.corpus import read_passages

    topics = {t.qid: t.text for t in read_topics(str(DL19 / "topics.tsv"))}
    table = read_run(str(DL19 / "bm25-top100.run")).output_order().to_pylist()
    qids = list(dict.fromkeys(r["qid"] for r in table))[:queries]
    lists = {q: [r["docno"] for r in table if r["qid"] == q][:depth] for q in qids}
    texts = read_passages(str(DL19 / "passages.jsonl"), {d for ds in lists.values() for d in ds})
    return [topics[q] for q in qids], [[texts[d] for d in lists[q]] for q in qids], qids


def pointwise_speed(directory: str, queries: list[str], lists: list[list[str]]) -> dict:
    import numpy as np
    from sentence_transformers import CrossEncoder

    from llmrank_cli.rankers import get

    pairs = [(q, p) for q, ps in zip(queries, lists) for p in ps]
    ce = CrossEncoder(directory, device="cpu")
    rendered = ce[0].tokenizer.decode(ce[0].preprocess([("\x01", "\x02")])["input_ids"][0], skip_special_tokens=False)
    prompt = rendered.replace("\x01", "{query}").replace("\x02", "{passage}").replace("<|endoftext|>", "")
    ce.predict(pairs[:8])  # warm-up, both sides
    ranker = get("pointwise").open(directory, max_length=4096, prompt=prompt, chat=False)  # rerank's defaults
    ranker.score_pairs([q for q, _ in pairs[:8]], [p for _, p in pairs[:8]])
    t = time.perf_counter()
    theirs = np.asarray(ce.predict(pairs), dtype=np.float64)  # its default batch of 32
    t_st = time.perf_counter() - t
    t_best = min(timed(lambda: ce.predict(pairs, batch_size=size)) for size in (4, 16))  # its best on this CPU
    t = time.perf_counter()
    ours = ranker.score_pairs([q for q, _ in pairs], [p for _, p in pairs])
    t_ours = time.perf_counter() - t
    return {"pairs": len(pairs), "st_pairs_per_s": len(pairs) / t_st, "st_best_pairs_per_s": len(pairs) / t_best,
            "llmrank_pairs_per_s": len(pairs) / t_ours, "ratio": t_st / t_ours, "ratio_to_best": t_best / t_ours,
            "max_abs_diff": float(np.abs(theirs - 1 / (1 + np.exp(-ours))).max())}  # predict applies a sigmoid


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def listwise_run(queries: list[str], lists: list[list[str]], depth: int) -> dict:
    """One uncached pass (windows of 20, stride 10) over each list's top ``depth``, and the same
    again from the cache."""
    from llmrank_cli.rankers import get

    out = {}
    for label in ("uncached", "cached"):
        ranker = get("listwise").open("smollm2-135m")
        ranker.lm.load_weights()
        t = time.perf_counter()
        ranker.score(queries, [ps[:depth] for ps in lists])
        seconds = time.perf_counter() - t
        m = ranker.manifest()
        out[label] = {"seconds": seconds, "windows": m["windows"], "calls": m["calls"],
                      "windows_per_s": m["windows"] / seconds, "prompt_tokens_per_s": m["prompt_tokens"] / seconds,
                      "completion_tokens_per_s": m["completion_tokens"] / seconds,
                      "unparsable_windows": m["unparsable_windows"]}
    return out


def fidelity(queries: list[str], lists: list[list[str]]) -> dict:
    """Every window of a DL19 sliding-window run over the top 100 (as if each answer kept the
    order: 9 windows a query) and of the top-20 run (1 window), as llmrank sends it to
    SmolLM2 (fitted to its context) against rank_llm's rendering of the same passages."""
    from llmrank_cli.rankers import get

    ranker, render = get("listwise").open("smollm2-135m"), rank_llm_renderer()
    compared = {"windows": 0, "equal": 0}
    for query, passages in zip(queries, lists):
        for a, b in ranker.spans(len(passages)) + [(0, 20)]:
            prompt, words = ranker.fitted(query, passages[a:b])
            compared["windows"] += 1
            compared["equal"] += render(query, passages[a:b], words) == prompt.content
    return compared


def rank_llm_renderer():
    """rank_llm's RankZephyr handler, its package __init__ (which loads vLLM) skipped."""
    import importlib
    import importlib.util
    import types

    import yaml

    root = Path(importlib.util.find_spec("rank_llm").submodule_search_locations[0])
    for package in ("rank_llm.rerank", "rank_llm.rerank.listwise"):
        stub = types.ModuleType(package)
        stub.__path__ = [str(root.joinpath(*package.split(".")[1:]))]
        sys.modules.setdefault(package, stub)
    data = importlib.import_module("rank_llm.data")
    handler_module = importlib.import_module("rank_llm.rerank.listwise.singleturn_listwise_inference_handler")
    template = yaml.safe_load((root / "rerank" / "prompt_templates" / "rank_zephyr_template.yaml").read_text())
    handler = handler_module.SingleTurnListwiseInferenceHandler(template)

    def render(query, passages, words):
        result = data.Result(query=data.Query(text=query, qid="q"), candidates=[
            data.Candidate(docid=str(i), score=1.0, doc={"contents": p}) for i, p in enumerate(passages)])
        return handler.generate_prompt(result, rank_start=0, rank_end=len(passages), max_length=words)
    return render


def peak_rss(kind: str, work: Path) -> float:
    """Peak RSS in GiB of one ``llmrank rerank`` of 5 DL19 queries' top 20."""
    lines = (DL19 / "bm25-top100.run").read_text().splitlines()
    qids = list(dict.fromkeys(line.split()[0] for line in lines))[:5]
    run = work / "five.run"
    run.write_text("".join(line + "\n" for line in lines if line.split()[0] in qids))
    out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "llmrank_cli", "--quiet", "rerank",
                          "--kind", kind, "--model", "smollm2-135m", "--run", str(run), "--topics",
                          str(DL19 / "topics.tsv"), "--corpus", str(DL19 / "passages.jsonl"), "--depth", "20",
                          "-o", str(work / f"{kind}.run")], capture_output=True, text=True,
                         env={**os.environ, "LLMRANK_CACHE": str(work / "rss-cache")})
    if out.returncode:
        raise SystemExit(out.stderr)
    return int(out.stderr.strip().splitlines()[-1]) / 2 ** 20


def cached_command(work: Path, tries: int = 3) -> dict | None:
    """The recipe's DL19 top-100 listwise rerank again, every answer from the response cache."""
    run = ROOT / "runs" / "dl19-listwise-top100.run"
    if not run.exists():
        return None
    command = json.loads(run.with_name(run.name + ".manifest.json").read_text())["command"]
    argv = [sys.executable, "-m", "llmrank_cli", "--quiet", *command[1:command.index("-o")], "-o", str(work / "l.run")]
    out = {"seconds": [], "calls": [], "identical": []}
    for _ in range(tries):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True)
        out["seconds"].append(time.perf_counter() - start)
        out["calls"].append(json.loads((work / "l.run.manifest.json").read_text())["config"]["calls"])
        out["identical"].append((work / "l.run").read_bytes() == run.read_bytes())
    return out


def model_loads() -> dict:
    """Seconds of SmolLM2's first load into an empty cache (GGUF parsed, dequantised and kept)
    and of a second (the kept files), 2 threads; the kept directory."""
    import torch

    from llmrank_cli.kit.causal_lm import gguf_as_transformers, load_causal_model
    from llmrank_cli.kit.resolve import resolve_causal_lm

    torch.set_num_threads(2)
    os.environ["LLMRANK_CACHE"] = tempfile.mkdtemp(prefix="llmrank-load-")
    first = timed(lambda: load_causal_model("smollm2-135m"))
    later = timed(lambda: load_causal_model("smollm2-135m"))
    path, gguf = resolve_causal_lm("smollm2-135m")
    return {"first_s": first, "kept_s": later, "directory": str(gguf_as_transformers(Path(path) / gguf, True))}


def print_loads(loads: dict) -> None:
    print(f"SmolLM2 load: first {loads['first_s']:.1f} s (GGUF parsed, dequantised, kept), later "
          f"{loads['kept_s']:.2f} s from the kept files ({loads['first_s'] / loads['kept_s']:.0f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--top100", action="store_true", help="also a top-100 sliding-window run (9 windows a query)")
    ap.add_argument("--cached-only", action="store_true", help="only the fully cached rerank command (5.)")
    ap.add_argument("--load-only", action="store_true", help="only the model loads (6.)")
    args = ap.parse_args()
    if args.load_only:
        return print_loads(model_loads())
    cached = cached_command(Path(tempfile.mkdtemp(prefix="llmrank-cached-")))  # the user's cache, not the work one
    if cached:
        print(f"rerank command, DL19 top 100 fully cached: {', '.join(f'{s:.2f}' for s in cached['seconds'])} s "
              f"(goal <= 5), calls {cached['calls']}, byte-identical to the recipe's run: {all(cached['identical'])}")
    else:
        print("rerank command fully cached: runs/dl19-listwise-top100.run missing (commands/llm-rerank.sh makes it)")
    if args.cached_only:
        return
    work = Path(tempfile.mkdtemp(prefix="llmrank-llm-"))
    queries, lists, _ = dl19_lists(args.queries, 100)
    report = {"loads": model_loads()}
    report["pointwise"] = pointwise_speed(report["loads"].pop("directory"), queries, [ps[:20] for ps in lists])
    report["listwise_top20"] = listwise_run(queries, lists, 20)
    if args.top100:
        report["listwise_top100"] = listwise_run(queries, lists, 100)
    every_query, every_list, _ = dl19_lists(43, 100)
    compared = report["fidelity"] = fidelity(every_query, every_list)
    report["peak_rss_gib"] = {kind: peak_rss(kind, work) for kind in ("pointwise", "listwise")}
    p = report["pointwise"]
    print(f"pointwise, {p['pairs']} DL19 pairs, same input, defaults: CrossEncoder.predict {p['st_pairs_per_s']:.2f} "
          f"pairs/s, llmrank {p['llmrank_pairs_per_s']:.2f} pairs/s: {p['ratio']:.2f}x (goal >= 1.3); predict's best "
          f"batch {p['st_best_pairs_per_s']:.2f} pairs/s ({p['ratio_to_best']:.2f}x); max |sigmoid(ours) - predict| "
          f"{p['max_abs_diff']:.1e}")
    for name in ("listwise_top20", "listwise_top100"):
        if name in report:
            u, c = report[name]["uncached"], report[name]["cached"]
            print(f"{name}: {u['windows']} windows in {u['seconds']:.1f} s ({u['windows_per_s']:.2f} windows/s, "
                  f"{u['prompt_tokens_per_s']:.0f} prompt + {u['completion_tokens_per_s']:.1f} completion tokens/s, "
                  f"{u['unparsable_windows']} unparsable); cached rerun {c['seconds']:.2f} s, {c['calls']} calls")
    print_loads(report["loads"])
    print(f"fidelity: {compared['equal']} of {compared['windows']} windows' messages equal rank_llm's rendering")
    print("peak RSS: " + ", ".join(f"{k} {v:.2f} GiB" for k, v in report["peak_rss_gib"].items()) + " (goal <= 2)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
