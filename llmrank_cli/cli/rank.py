"""``llmrank rank``: a TREC run (or a Million LLMs submission) from a first-stage model."""
from __future__ import annotations

from typing import Optional

import typer

from .. import rankers
from . import options
from .app import app, note, state


@app.command("rank")
def rank_command(
    model: str = typer.Option(..., "--model", help="bm25 (with --index) or an item ranker's directory from "
                                                   "`llmrank train`."),
    topics: str = typer.Option(..., "--topics", help="Topics (TSV, SGML, XML, JSONL, CSV, SMART)."),
    index: Optional[str] = typer.Option(None, "--index", help="Lucene index from `prepare index`."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Passages to rank, for a model trained on passages "
                                                                 "(lt-ttd on `prepare items --corpus` data)."),
    k: int = typer.Option(1000, "--k", min=1, help="Documents (items) per query."),
    k1: float = typer.Option(0.9, "--k1", help="BM25 k1."),
    b: float = typer.Option(0.4, "--b", help="BM25 b."),
    rm3: bool = typer.Option(False, "--rm3", help="RM3 pseudo-relevance feedback (10 terms, 10 docs, 0.5)."),
    threads: int = typer.Option(2, "--threads", min=1, help="Search threads."),
    tag: str = typer.Option("bm25", "--tag", help="Run tag (pyserini's CLI uses 'Anserini')."),
    fmt: str = typer.Option("trec", "--format", help="trec or mllm (Million LLMs submission CSV)."),
    team_id: Optional[str] = typer.Option(None, "--team-id", help="team_id for --format mllm."),
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    resume: bool = typer.Option(False, "--resume", help="Model directories: continue an interrupted job from "
                                                         "OUT.partial."),
    chunk_pairs: int = options.CHUNK_PAIRS,
    topics_format: str = options.TOPICS_FORMAT,
    topics_field: str = options.TOPICS_FIELD,
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Rank with BM25 (optionally RM3) or a trained model: a TREC run or a Million LLMs submission.

    BM25's lines are identical to pyserini's `python -m pyserini.search.lucene` (scores printed
    with 6 decimals), in trec_eval's order."""
    from ..errors import LlmrankError
    from ..formats import read_topics, write_submission
    from ..retrieval.bm25 import Bm25Searcher, pyserini_order, write_trec_run
    from ..manifest import write_manifest
    from ..progress import Progress

    if fmt not in ("trec", "mllm"):
        raise LlmrankError("--format must be trec or mllm")
    if model != "bm25":
        _rank_items(model, read_topics(topics, topics_format, topics_field), None if tag == "bm25" else tag, fmt,
                    team_id, output, rankers.Runtime(device, dtype), resume, chunk_pairs, k, corpus)
        return
    if index is None:
        raise LlmrankError("--model bm25 needs --index (build one with `llmrank prepare index`)")
    topic_list = pyserini_order(read_topics(topics, topics_format, topics_field))
    searcher = Bm25Searcher(index, k1, b, rm3)
    progress = Progress("bm25", state.quiet, unit="queries")
    progress.start(len(topic_list))
    try:
        if fmt == "mllm":
            run = searcher.run(topic_list, k, threads, progress)
            write_submission(run, output, team_id or tag)
            retrieved = set(run.table["qid"].to_pylist())
        else:
            retrieved = write_trec_run(searcher, topic_list, k, threads, tag, output, progress)
    finally:
        progress.close()
    if output != "-":
        write_manifest(output + ".manifest.json", "run", {**searcher.config(), "topics": topics, "k": k})
    empty = len(topic_list) - len(retrieved)
    note(f"{len(topic_list)} queries ranked" + (f"; {empty} retrieved nothing" if empty else ""))


def _rank_items(model_dir: str, topics, tag: str | None, fmt: str, team_id, output: str, runtime, resume: bool,
                chunk_pairs: int, k: int, corpus: str | None) -> None:
    """Every item (LLM, or passage of ``corpus`` for a model of content items) for every topic,
    scored by a trained item ranker through the scoring pipeline (chunks, --resume, processes
    under torchrun), the top ``k`` kept; a submission is converted from the run."""
    import tempfile
    from pathlib import Path

    from ..errors import LlmrankError
    from ..formats import read_run, write_run, write_submission
    from ..manifest import write_manifest
    from ..pipelines.score import over_pool, score_queries
    from ..progress import Progress

    if rankers.base.read_manifest(model_dir) is None:
        raise LlmrankError(f"--model {model_dir!r}: neither bm25 nor a model directory from `llmrank train`")
    ranker = rankers.load(model_dir, runtime)
    if ranker.candidates != "items":
        raise LlmrankError(f"--model {model_dir}: a {ranker.name} scores passages: use `llmrank rerank`")
    if ranker.content_items and not corpus:
        raise LlmrankError(f"--model {model_dir} ranks passages: give them with --corpus")
    if corpus:
        from ..formats.corpus import read_passages

        ranker.use_corpus(read_passages(corpus))
    tag = tag or ranker.name
    progress = Progress(f"rank {ranker.name}", state.quiet)
    cut = k < len(ranker.items)
    with tempfile.TemporaryDirectory() as tmp:
        # the whole pool's run before the cut sits beside the output, so --resume finds its partials
        run_path = output if fmt == "trec" and not cut else str(Path(tmp) / "run") if output == "-" or fmt == "mllm" \
            else output + ".pool"
        try:
            stats = score_queries(over_pool(topics, ranker.items), ranker, run_path, resume=resume, tag=tag,
                                  progress=progress, chunk_pairs=chunk_pairs)
        finally:
            progress.close()
        if not stats.main:
            return
        if fmt == "mllm":
            write_submission(read_run(run_path).truncated(k), output, team_id or tag)
        elif cut:
            write_run(read_run(run_path).truncated(k), output, tag=tag)
            Path(run_path).unlink(missing_ok=True)
    if output != "-":
        write_manifest(output + ".manifest.json", "run", {"model": model_dir, "ranker": ranker.name, "topics": len(topics),
                                                          "items": len(ranker.items), "format": fmt, "k": k,
                                                          "corpus": corpus})
    note(f"{len(topics)} queries ranked over {len(ranker.items)} items")
