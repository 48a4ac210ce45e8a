"""``llmrank report``: one self-contained HTML page of where and why runs differ
(``jobs/evaluation.py``'s ReportJob, ``pipelines/report.py``)."""
from __future__ import annotations

from . import flags
from .app import app


def _report(job, _: dict) -> None:
    from ..pipelines.report import report
    from ..progress import note

    report(job)
    if job.output != "-":
        note(f"llmrank: report written to {job.output}")


def _command():
    from ..jobs.evaluation import ReportJob

    return flags.job_command(ReportJob, [], _report, "One self-contained HTML page of where and why runs differ: "
                                                     "the summary against each baseline, per query, per category, "
                                                     "distributions, and the runs' lists query by query.")


app.command("report")(_command())
