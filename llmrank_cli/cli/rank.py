"""``llmrank rank``: a TREC run (or a Million LLMs submission) from a first-stage model."""
from __future__ import annotations

from . import flags, options
from .app import app, note, state


def _rank(job, _: dict) -> None:
    from ..pipelines.ranking import rank

    report = rank(job, state.quiet)
    if report:
        note(report)


def _command():
    import inspect

    from ..jobs import RankJob

    quiet = inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=options.QUIET, annotation=bool)
    return flags.job_command(
        RankJob, [quiet], [], _rank,
        "Rank with BM25 (optionally RM3) or a trained model: a TREC run or a Million LLMs submission.\n\n"
        "BM25's lines are identical to pyserini's `python -m pyserini.search.lucene` (scores printed with 6 "
        "decimals), in trec_eval's order.")


app.command("rank")(_command())
