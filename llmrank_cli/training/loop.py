"""The small training loop every head-on-features ranker shares (two-tower presets, tier3's head
and encoder top): seeded minibatches over examples, AdamW or Lion, one progress tick per epoch.

A ranker gives the loop its network, its parameter groups and ``loss(batch, epoch)``; the loop
owns the order of examples (one seeded generator, also handed to the loss for its own sampling),
the optimizer, the device and the precision.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

from .optimizers import make_optimizer


@dataclass
class LoopSettings:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    optimizer: str


def seeded(seed: int):
    """Seed torch's global RNG (initial weights, dropout) and return the loop's own generator
    (example order, the losses' sampling), seeded alike."""
    import torch

    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: str, dtype):
    """bf16/fp16 autocast on the device; plain fp32 runs without it (numbers unchanged)."""
    import torch

    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def train_epochs(net, groups, n_examples: int, loss: Callable, settings: LoopSettings, generator,
                 device: str = "cpu", dtype=None, progress=None) -> None:
    """``settings.epochs`` passes over ``n_examples`` in seeded random batches; ``loss(idx, epoch)``
    returns the scalar loss (a mean) over the example indices ``idx``.

    Under torchrun/accelerate every process draws the same batches, takes every WORLD_SIZE-th
    example of each, and the gradients are summed weighted by each share's size: every process
    then steps with the whole batch's gradient and all keep the same weights."""
    import torch

    from ..kit.devices import launched

    rank, world = launched()
    optimizer = make_optimizer(settings.optimizer, groups, settings.lr, settings.weight_decay)
    net.train()
    for epoch in range(settings.epochs):
        for idx in torch.randperm(n_examples, generator=generator).split(settings.batch_size):
            mine = idx[rank::world]
            optimizer.zero_grad()
            if len(mine):
                with autocast(device, dtype or torch.float32):
                    value = loss(mine, epoch)
                value.backward()
            if world > 1:
                _sum_gradients(optimizer, len(mine) / len(idx))
            optimizer.step()
        if progress:
            progress.advance(1)
    net.eval()


def _sum_gradients(optimizer, share: float) -> None:
    """Each process's gradient of its share's mean loss, weighted by the share: their sum is the
    gradient of the whole batch's mean loss."""
    import torch
    import torch.distributed as dist

    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.mul_(share)
            dist.all_reduce(p.grad)
