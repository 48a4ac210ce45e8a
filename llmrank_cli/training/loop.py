"""The small training loop every head-on-features ranker shares (two-tower presets, tier3's head
and encoder top): seeded minibatches over examples, AdamW or Lion, one progress tick per epoch.

A ranker gives the loop its network, its parameter groups and ``loss(batch, epoch)``; the loop
owns the order of examples (one seeded generator, also handed to the loss for its own sampling),
the optimizer, the device and the precision.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import LlmrankError
from ..formats.io import atomic_output
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


def resumable(directory: Path, key: dict, resume: bool, what: str, writer: bool = True) -> None:
    """Claim ``directory`` for resumable work described by ``key`` (settings, seed, data): a
    directory left by an interrupted run is continued only with ``resume`` and the same key."""
    stamp = directory / "settings.json"
    if stamp.exists():
        if not resume:
            raise LlmrankError(f"{directory} holds {what}: pass --resume to continue it, or delete it to start over")
        before = json.loads(stamp.read_text())
        changed = sorted(k for k in key if before.get(k) != key[k])
        if changed:
            raise LlmrankError(f"--resume with different settings than the interrupted run: {', '.join(changed)}")
    elif writer:
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_output(stamp) as f:
            json.dump(key, f, indent=2)


def train_epochs(net, groups, n_examples: int, loss: Callable, settings: LoopSettings, generator,
                 device: str = "cpu", dtype=None, progress=None, checkpoints: Path | None = None) -> None:
    """``settings.epochs`` passes over ``n_examples`` in seeded random batches; ``loss(idx, epoch)``
    returns the scalar loss (a mean) over the example indices ``idx``.

    With ``checkpoints`` (a directory claimed by :func:`resumable`) the weights, optimizer and
    both random states are saved after every epoch, and a run finding them continues after
    the last saved epoch with the result of an uninterrupted one.

    Under torchrun/accelerate every process draws the same batches, takes every WORLD_SIZE-th
    example of each, and the gradients are summed weighted by each share's size: every process
    then steps with the whole batch's gradient and all keep the same weights."""
    import torch

    from ..kit.devices import launched

    rank, world = launched()
    optimizer = make_optimizer(settings.optimizer, groups, settings.lr, settings.weight_decay)
    start = _restore(checkpoints, net, optimizer, generator, progress) if checkpoints else 0
    net.train()
    for epoch in range(start, settings.epochs):
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
        if checkpoints and rank == 0:
            state = {"epoch": epoch + 1, "net": net.state_dict(), "params": _trained(optimizer),
                     "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                     "rng": torch.get_rng_state()}
            with atomic_output(checkpoints / "last.pt", "wb") as f:
                torch.save(state, f)
        if progress:
            progress.advance(1)
    net.eval()


def _restore(checkpoints: Path, net, optimizer, generator, progress) -> int:
    """The epoch to continue from (0 without a checkpoint), with every state put back."""
    import torch

    path = checkpoints / "last.pt"
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    net.load_state_dict(state["net"])
    with torch.no_grad():  # also those outside the net's module tree while it trains (a swapped-out top layer)
        for p, saved in zip(_trained(optimizer), state["params"]):
            p.copy_(saved)
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["rng"])
    if progress:
        progress.advance(state["epoch"])
    return state["epoch"]


def _trained(optimizer) -> list:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _sum_gradients(optimizer, share: float) -> None:
    """Each process's gradient of its share's mean loss, weighted by the share: their sum is the
    gradient of the whole batch's mean loss."""
    import torch
    import torch.distributed as dist

    for p in _trained(optimizer):
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        p.grad.mul_(share)
        dist.all_reduce(p.grad)
