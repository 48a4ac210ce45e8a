"""Datasets: item-ranking data directories with their folds, and passage training examples.

The names below load on first use, so that importing a light submodule (``neighbours``, as the
rankers do when the CLI lists them) does not bring in the formats layer and pyarrow."""
__all__ = ["DEFAULT_ENCODER", "MLLM_GAINS", "MLLM_GAINS_SOURCE", "ItemData", "assign_folds", "load_items", "prepare_items"]


def __getattr__(name: str):
    if name in __all__:
        from . import items

        return getattr(items, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
