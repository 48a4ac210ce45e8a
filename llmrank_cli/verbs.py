"""The Python API's verbs that run models or write pages, ``llmrank.rerank``, ``llmrank.rank``,
``llmrank.train``, ``llmrank.cross_validate`` and ``llmrank.report``: they take the typed job the command builds
(``jobs/``), or keyword arguments that build one, check it as the command does, run the same
pipeline function and return the run, the model directory, the CV report or the page.

>>> import llmrank
>>> run = llmrank.rerank(run="bm25.run", topics="topics.tsv", corpus="corpus.jsonl",
...                      model="all-MiniLM-L6-v2", kind="bi", depth=20)
>>> report = llmrank.cross_validate("tier1", data="data/", output="cv/", folds=5)
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path

from .errors import LlmrankError
from .formats import Run, read_run, write_run
from .jobs.scoring import RankJob, RerankJob


def rerank(job: RerankJob | None = None, *, quiet: bool = True, **options) -> Run:
    """The run ``job`` writes: the top ``depth`` of ``run`` rescored by the passage ranker
    ``kind``. Keyword arguments are RerankJob's fields, then the ranker's own scoring settings
    (``similarity="dot"`` for the bi-encoder). ``run`` may also be a Run, a dict or a DataFrame
    (``llmrank.as_run``); with no ``output`` nothing is written but the returned run."""
    from .pipelines.passages import rerank as rerank_pipeline

    job, settings = _job(RerankJob, job, options)
    _own_settings(job, job.kind, settings, scoring=True)
    with _files(job) as job:
        rerank_pipeline(job, settings, quiet)
        return read_run(job.output)


def rank(job: RankJob | None = None, *, quiet: bool = True, **options) -> Run:
    """The run of ``topics`` ranked by BM25 (``model="bm25"``, ``index``) or by a trained item
    ranker's directory (a submission CSV is the command's: ``llmrank rank --format mllm``)."""
    from .pipelines.ranking import rank as rank_pipeline

    job, extra = _job(RankJob, job, options)
    if extra:
        raise LlmrankError(f"{sorted(extra)[0]!r} is not a field of RankJob")
    if job.fmt != "trec":
        raise LlmrankError("llmrank.rank returns a run; a Million LLMs submission is `llmrank rank --format mllm`")
    with _files(job) as job:
        rank_pipeline(job, quiet)
        return read_run(job.output)


def train(name: str, job=None, *, quiet: bool = True, **options) -> Path:
    """The model directory ``output`` where the ranker ``name`` was trained. Keyword arguments are
    the fields of the job of the examples it learns from (``jobs.training.train_job``: a data
    directory, passage topics/qrels/run/corpus, cached heads), then the ranker's settings
    (``epochs=3``)."""
    from . import pipelines, rankers
    from .jobs.training import train_job

    job, settings = _job(train_job(rankers.get(name)), job, options)
    _own_settings(job, name, settings)
    pipelines.train(name, job.check(), settings, quiet)
    return Path(job.output)


def cross_validate(name: str, job=None, *, quiet: bool = True, **options) -> dict:
    """The k-fold CV by query of the ranker ``name`` (as ``llmrank cv NAME``): its report, the dict
    written as OUTPUT/NAME.cv.json (measures per fold with mean, std and 95% CI), beside the
    out-of-fold run OUTPUT/NAME.run."""
    from . import pipelines, rankers
    from .jobs.training import cv_job

    job_cls = cv_job(rankers.get(name))
    if job_cls is None:
        raise LlmrankError(f"{name} has no cross-validation (`llmrank cv --help` lists the rankers that do)")
    job, settings = _job(job_cls, job, options)
    _own_settings(job, name, settings)
    return pipelines.cross_validate(name, job.check(), settings, quiet)[0]


def report(job=None, **options) -> str:
    """The HTML page ``llmrank report`` writes (to ``output`` too, when given): keyword arguments
    are ReportJob's fields (``qrels``, ``runs``, ``baseline=[...]``, ``topics``, ``corpus``, ...)."""
    from .jobs.evaluation import ReportJob
    from .pipelines.report import build, report as write_report

    job, extra = _job(ReportJob, job, options)
    if extra:
        raise LlmrankError(f"{sorted(extra)[0]!r} is not a field of ReportJob")
    if job.output is None:
        return build(dataclasses.replace(job, output="-").check())
    return write_report(job.check())


def _own_settings(job, name: str, settings: dict, scoring: bool = False) -> None:
    """Refuse a keyword that is neither the job's field nor the ranker's (scoring) setting."""
    from . import rankers

    own = {f.name for f in dataclasses.fields(rankers.get(name).Settings) if f.metadata.get("scoring") or not scoring}
    unknown = sorted(set(settings) - own)
    if unknown:
        raise LlmrankError(f"{unknown[0]!r} is neither a field of {type(job).__name__} nor a setting of "
                           f"{'--kind ' if scoring else ''}{name}")


def _job(cls: type, job, options: dict):
    """(the job, checked; the keyword arguments that are not its fields)."""
    names = {f.name for f in dataclasses.fields(cls)}
    if job is None:
        job = cls(**{k: v for k, v in options.items() if k in names})
    elif options.keys() & names:
        raise LlmrankError(f"give the job or its fields, not both ({sorted(options.keys() & names)[0]})")
    return job, {k: v for k, v in options.items() if k not in names}


def _is_data(value) -> bool:
    return not isinstance(value, (str, os.PathLike, int, float, bool, type(None)))


@contextlib.contextmanager
def _files(job):
    """The job with its in-memory inputs written to a temporary directory and, with no output,
    its output there too; checked before anything is read."""
    with tempfile.TemporaryDirectory(prefix="llmrank-") as tmp:
        changes = {}
        if hasattr(job, "run") and _is_data(job.run):
            from .api import as_run

            write_run(as_run(job.run), Path(tmp) / "input.run")
            changes["run"] = str(Path(tmp) / "input.run")
        if job.output == "-":
            changes["output"] = str(Path(tmp) / "output")
        job = dataclasses.replace(job, **changes).check()
        yield job
