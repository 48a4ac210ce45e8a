"""Pipelines over rankers, one module per kind of training example (``items``: item data
directories, ``passages``: passage examples, ``heads``: cached head scores), each with the same
verbs (``train``, ``cross_validate``, scoring), and ``score``: candidate lists into a run (rank,
rerank; chunked, resumable, sharded over processes)."""
from ..errors import LlmrankError


def trainable(name: str, examples: type) -> type:
    """The ranker class registered as ``name``, which must learn from ``examples`` (the type a
    ranker declares as ``trains_on``)."""
    from .. import rankers

    cls = rankers.get(name)
    if cls.trains_on is not examples:
        raise LlmrankError(f"{name} does not learn from {examples.__name__}; those that do: "
                           f"{', '.join(rankers.names(trains_on=examples))}")
    return cls


def train(name: str, job, settings: dict, quiet: bool = False):
    """``train NAME``: the pipeline of the job's kind of example (``jobs/training.py``); returns
    what that pipeline reports (None in launched processes other than rank 0)."""
    return _pipeline(job).train(name, job, settings, quiet)


def cross_validate(name: str, job, settings: dict, quiet: bool = False):
    """``cv NAME``: (the CV result, the out-of-fold run's evaluation); (None, None) off rank 0."""
    return _pipeline(job).cross_validate(name, job, settings, quiet)


def _pipeline(job):
    from ..jobs import training
    from . import heads, items, passages

    return {training.ItemTrainJob: items, training.ItemCvJob: items, training.PassageTrainJob: passages,
            training.PassageCvJob: passages, training.HeadsTrainJob: heads}[type(job)]
