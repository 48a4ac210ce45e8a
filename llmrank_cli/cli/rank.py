"""``llmrank rank``: a TREC run (or a Million LLMs submission) from a first-stage model."""
from __future__ import annotations

from typing import Optional

import typer

from . import flags, options
from .app import app, note, state


def _rank_flags(
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
) -> None:
    """Flags of `rank` of its own (the scoring-job flags follow)."""


def _rank(a: dict, _: dict) -> None:
    from types import SimpleNamespace

    from ..pipelines.ranking import rank

    report = rank(SimpleNamespace(**a), state.quiet)
    if report:
        note(report)


app.command("rank")(flags.command(
    (_rank_flags, options.scoring_job), [], _rank,
    "Rank with BM25 (optionally RM3) or a trained model: a TREC run or a Million LLMs submission.\n\n"
    "BM25's lines are identical to pyserini's `python -m pyserini.search.lucene` (scores printed with 6 "
    "decimals), in trec_eval's order."))
