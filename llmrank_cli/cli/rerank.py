"""``llmrank rerank`` and ``llmrank merge``: rescore a run's top-k; join shard outputs.

``--kind`` takes any registered passage ranker; each ranker's own scoring flags (e.g. the
bi-encoder's ``--similarity``) are generated from its settings and refused for other kinds."""
from __future__ import annotations

from typing import List, Optional

import typer

from .. import rankers
from . import flags, options
from .app import app, note, state


def _kinds_help() -> str:
    return ", ".join(f"{n} ({', '.join(rankers.aliases_of(n))})" if rankers.aliases_of(n) else n
                     for n in rankers.names(candidates="passages"))


def _rerank_flags(
    run: str = typer.Option(..., "--run", help="Input run (TREC or MS MARCO); - for stdin."),
    topics: str = typer.Option(..., "--topics", help="Topics (TSV, SGML, XML, JSONL, CSV)."),
    corpus: str = typer.Option(..., "--corpus", help="Passages: JSONL/TSV/TREC/SMART file (.gz ok) or a Lucene "
                                                    "index built with --store-raw."),
    model: str = typer.Option(..., "--model", help="Model directory, hub id, or an installed offline model name."),
    kind: str = typer.Option("cross", "--kind", help=f"The ranker: {_kinds_help()}."),
    depth: int = typer.Option(100, "--depth", min=1, help="Rescore the top N; the rest keep their order below."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Most pairs in one forward pass."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=8, help="Token limit (default: the model's)."),
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted job from OUT.partial."),
    shard: Optional[str] = typer.Option(None, "--shard", help="i/N: rerank every N-th chunk of queries only "
                                                              "(join with `merge`)."),
    chunk_pairs: int = options.CHUNK_PAIRS,
    tag: Optional[str] = typer.Option(None, "--tag", help="Run tag (default: the input's)."),
    topics_format: str = options.TOPICS_FORMAT,
    topics_field: str = options.TOPICS_FIELD,
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Flags of `rerank` (the rankers' scoring flags follow)."""


def _scoring_parameters() -> list:
    params = {}
    for name in rankers.names(candidates="passages"):
        for p in flags.parameters(rankers.get(name).Settings, rankers.preset(name), scoring_only=True, owner=name):
            params.setdefault(p.name, p)
    return list(params.values())


def _rerank(a: dict, scoring: dict) -> None:
    from types import SimpleNamespace

    from ..errors import LlmrankError
    from ..formats import read_run, read_topics
    from ..manifest import write_manifest
    from ..pipelines.score import from_run, parse_shard, score_queries
    from ..progress import Progress

    a = SimpleNamespace(**a)
    name = rankers.canonical(a.kind)
    cls = rankers.get(name)
    if cls.candidates != "passages":
        raise LlmrankError(f"--kind {a.kind} ranks items, not passages; passage rankers: {_kinds_help()}")
    own = {f.name for f in flags.setting_fields(cls.Settings, scoring_only=True)}
    foreign = sorted(k for k, v in scoring.items() if v is not None and k not in own)
    if foreign:
        raise LlmrankError(f"--{foreign[0].replace('_', '-')} is not an option of --kind {a.kind}")
    if a.output == "-" and (a.resume or a.shard):
        raise LlmrankError("--resume and --shard need an output file (-o)")
    shard = parse_shard(a.shard)
    candidates = read_run(a.run)
    queries = from_run(candidates, read_topics(a.topics, a.topics_format, a.topics_field), a.depth)
    ranker = cls.open(a.model, rankers.Runtime(a.device, a.dtype), a.max_length, a.batch_size,
                      **flags.values(cls.Settings, {k: v for k, v in scoring.items() if k in own}))
    progress = Progress(f"rerank {name}", state.quiet)
    try:
        stats = score_queries(queries, ranker, a.output, _passage_source(a.corpus), a.resume, shard,
                              a.tag or candidates.tag, progress, a.chunk_pairs)
    finally:
        progress.close()
    if not stats.main:
        return
    if a.output != "-":
        write_manifest(a.output + ".manifest.json", "run", {
            "ranker": name, **ranker.manifest(), "settings": {k: getattr(ranker.settings, k) for k in sorted(own)}, "run": a.run, "topics": a.topics,
            "corpus": a.corpus, "depth": a.depth, "shard": a.shard, "chunk_pairs": a.chunk_pairs,
            "queries": stats.queries, "pairs": stats.pairs})
    rate = stats.pairs / stats.seconds if stats.seconds > 0 else 0.0
    note(f"reranked {stats.pairs} pairs of {stats.queries} queries in {stats.seconds:.1f}s ({rate:.1f} pairs/s)"
         + (f", {stats.skipped_queries} queries already done" if stats.skipped_queries else "")
         + f"; {stats.truncated} inputs truncated at {ranker.max_length} tokens")


app.command("rerank")(flags.command((_rerank_flags,), _scoring_parameters(), _rerank,
                                    "Rescore the top-k of a run with a passage ranker and write a TREC run."))


def _passage_source(corpus: str):
    """wanted ids -> texts, from a collection file or a Lucene index directory."""
    from pathlib import Path

    if Path(corpus).is_dir():
        from ..retrieval.bm25 import index_passages

        return lambda wanted: index_passages(corpus, wanted)
    from ..formats.corpus import read_passages

    return lambda wanted: read_passages(corpus, wanted)
