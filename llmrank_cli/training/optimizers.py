"""Optimizers by name, with the settings of the Lion-vs-AdamW thesis: AdamW betas (0.9, 0.999),
eps 1e-8; Lion (lion-pytorch) betas (0.9, 0.99); SGD momentum 0.9 (the
Language Ranker seed's grid), and the learning-rate schedules after warmup by their names in
transformers. One definition serves the item-ranker loop and the Hugging Face trainer."""
from __future__ import annotations

from ..errors import LlmrankError, MissingExtra

OPTIMIZERS = ("adamw", "lion", "sgd")
SCHEDULERS = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}


def optimizer_class_and_kwargs(name: str, lr: float, weight_decay: float) -> tuple[type, dict]:
    if name == "adamw":
        import torch

        return torch.optim.AdamW, {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": weight_decay}
    if name == "lion":
        try:
            from lion_pytorch import Lion
        except ImportError:
            raise MissingExtra("--optimizer lion", "lion-pytorch") from None
        return Lion, {"lr": lr, "betas": (0.9, 0.99), "weight_decay": weight_decay}
    if name == "sgd":
        import torch

        return torch.optim.SGD, {"lr": lr, "momentum": 0.9, "weight_decay": weight_decay}
    raise LlmrankError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")


def make_optimizer(name: str, params, lr: float, weight_decay: float):
    cls, kwargs = optimizer_class_and_kwargs(name, lr, weight_decay)
    return cls(params, **kwargs)
