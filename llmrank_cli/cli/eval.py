"""``llmrank eval``: trec_eval-compatible scoring of one or more runs (``jobs/evaluation.py``)."""
from __future__ import annotations

from . import flags
from .app import app


def _eval(job, _: dict) -> None:
    from ..pipelines.runs import evaluate_report

    evaluate_report(job)


def _command():
    from ..jobs.evaluation import EvalJob

    return flags.job_command(EvalJob, [], _eval, "Score runs against qrels with exactly trec_eval's numbers (10.0, "
                                                 "9.0.8 or pyserini's 10.0-rc2).")


app.command("eval")(_command())
