"""``llmrank rank``: a TREC run (or a Million LLMs submission) from a first-stage model."""
from __future__ import annotations

from . import flags
from .app import app, note, state


def _rank(job, _: dict) -> None:
    from ..pipelines.ranking import rank

    report = rank(job, state.quiet)
    if report:
        note(report)


def _command():
    from ..jobs.scoring import RankJob

    return flags.job_command(
        RankJob, [], _rank,
        "Rank with BM25 (optionally RM3) or a trained model: a TREC run or a Million LLMs submission.\n\n"
        "BM25's lines are identical to pyserini's `python -m pyserini.search.lucene` (scores printed with 6 "
        "decimals), in trec_eval's order.")


app.command("rank")(_command())
