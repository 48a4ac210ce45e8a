"""``llmrank rerank`` and ``llmrank merge``: rescore a run's top-k; join shard outputs."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import options
from .app import app, note, state


@app.command("rerank")
def rerank_command(
    run: str = typer.Option(..., "--run", help="Input run (TREC or MS MARCO); - for stdin."),
    topics: str = typer.Option(..., "--topics", help="Topics (TSV, SGML, XML, JSONL, CSV)."),
    corpus: str = typer.Option(..., "--corpus", help="Passages: JSONL/TSV/TREC/SMART file (.gz ok) or a Lucene "
                                                    "index built with --store-raw."),
    model: str = typer.Option(..., "--model", help="Model directory, hub id, or an installed offline model name."),
    kind: str = typer.Option("cross", "--kind", help="cross (CrossEncoder) or bi (SentenceTransformer)."),
    depth: int = typer.Option(100, "--depth", min=1, help="Rescore the top N; the rest keep their order below."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Most pairs in one forward pass."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=8, help="Token limit (default: the model's)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, fp32, bf16 or fp16."),
    similarity: str = typer.Option("cos", "--similarity", help="For --kind bi: cos or dot."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted job from OUT.partial."),
    shard: Optional[str] = typer.Option(None, "--shard", help="i/N: rerank every N-th query only."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Run tag (default: the input's)."),
    topics_format: str = options.TOPICS_FORMAT,
    topics_field: str = options.TOPICS_FIELD,
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Rescore the top-k of a run with a cross-encoder or bi-encoder and write a TREC run."""
    from ..errors import LlmrankError
    from ..formats import read_run, read_topics
    from ..manifest import write_manifest
    from ..models import kinds, load_reranker
    from ..progress import Progress
    from ..reranking import parse_shard, rerank

    if kind not in kinds():
        raise LlmrankError(f"--kind must be one of {', '.join(kinds())}")
    if output == "-" and (resume or shard):
        raise LlmrankError("--resume and --shard need an output file (-o)")
    shard_spec = parse_shard(shard)
    candidates = read_run(run)
    topic_list = read_topics(topics, topics_format, topics_field)
    reranker = load_reranker(kind, model, max_length=max_length, batch_size=batch_size, device=device,
                             dtype=dtype, similarity=similarity)
    progress = Progress(f"rerank {kind}", state.quiet)
    try:
        stats = rerank(candidates, topic_list, _passage_source(corpus), reranker, output, depth, resume, shard_spec,
                       tag, progress)
    finally:
        progress.close()
    if output != "-":
        write_manifest(output + ".manifest.json", "run", {
            "reranker": reranker.config(), "run": run, "topics": topics, "corpus": corpus, "depth": depth,
            "shard": shard, "queries": stats.queries, "pairs": stats.pairs})
    rate = stats.pairs / stats.seconds if stats.seconds > 0 else 0.0
    note(f"reranked {stats.pairs} pairs of {stats.queries} queries in {stats.seconds:.1f}s ({rate:.1f} pairs/s)"
         + (f", {stats.skipped_queries} queries already done" if stats.skipped_queries else "")
         + f"; {stats.truncated} inputs truncated at {reranker.max_length} tokens")


def _passage_source(corpus: str):
    """wanted ids -> texts, from a collection file or a Lucene index directory."""
    from pathlib import Path

    if Path(corpus).is_dir():
        from ..lucene import index_passages

        return lambda wanted: index_passages(corpus, wanted)
    from ..formats.corpus import read_passages

    return lambda wanted: read_passages(corpus, wanted)


@app.command("merge")
def merge_command(
    runs: List[str] = typer.Argument(..., help="Shard outputs to join."),
    topics: Optional[str] = typer.Option(None, "--topics", help="Also check that every topic is present."),
    output: str = options.OUTPUT,
) -> None:
    """Join shard runs; every query must come from exactly one shard."""
    from ..formats import read_run, read_topics, write_run
    from ..reranking import merge_runs

    merged = merge_runs([read_run(p) for p in runs], read_topics(topics) if topics else None)
    write_run(merged, output)
