"""Datasets: item-ranking data directories with their folds, and passage training examples."""
from .items import DEFAULT_ENCODER, MLLM_GAINS, ItemData, assign_folds, load_items, prepare_items

__all__ = ["DEFAULT_ENCODER", "MLLM_GAINS", "ItemData", "assign_folds", "load_items", "prepare_items"]
