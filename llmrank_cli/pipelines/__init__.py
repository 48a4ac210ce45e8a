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
