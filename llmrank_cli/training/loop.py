"""The small training loop every head-on-features ranker shares (two-tower presets, tier3's head
and encoder top): seeded minibatches over examples, AdamW or Lion, one progress tick per epoch.

A ranker gives the loop its network, its parameter groups and ``loss(batch, epoch)``; the loop
owns the order of examples (one seeded generator, also handed to the loss for its own sampling),
the optimizer with its warmup and schedule, gradient clipping, the device and the precision,
and (through a :class:`Watch`) checkpoints, per-epoch evaluation and the log behind the curves.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import LlmrankError
from ..formats.io import atomic_output, claim
from ..settings import Settings, setting
from .optimizers import OPTIMIZERS, SCHEDULERS, make_optimizer


@dataclass
class LoopFields(Settings):
    """Settings of every ranker trained by this loop (a ranker's settings include them; it
    re-declares a field to give it its own default)."""

    epochs: int = setting(10, "Training epochs.", min=1)
    batch_size: int = setting(64, "Queries per batch.", min=1)
    lr: float = setting(1e-3, "Learning rate.", min=0.0)
    weight_decay: float = setting(0.01, "Weight decay.", min=0.0)
    optimizer: str = setting("adamw", "adamw, lion or sgd (momentum 0.9).", choices=OPTIMIZERS)
    warmup_steps: int = setting(0, "Linear warmup steps.", min=0)
    scheduler: str = setting("constant", "After warmup: constant, linear or cosine decay.",
                             choices=tuple(SCHEDULERS))
    grad_clip: float = setting(0.0, "Gradient norm clipping; 0 turns it off.", min=0.0)


@dataclass
class Watch:
    """What a training run keeps beside the weights: per-epoch checkpoints (a directory claimed
    by :func:`resumable`), ``evaluate()`` -> measures after every epoch, and the log (one row per
    step with loss, learning rate and gradient norm, one per epoch with the measures)."""

    checkpoints: Path | None = None
    evaluate: Callable | None = None
    steps: list = field(default_factory=list)
    epochs: list = field(default_factory=list)


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


def resumable(directory: Path, key: dict, resume: bool, what: str) -> None:
    """Claim ``directory`` for resumable work described by ``key`` (settings, seed, data): a
    directory left by an interrupted run is continued only with ``resume`` and the same key, and
    one a running job holds is refused. Under a launcher every process checks before rank 0
    writes the claim (and holds the directory)."""
    check_resumable(directory, key, resume, what)
    mark_started(directory, key)


def check_resumable(directory: Path, key: dict, resume: bool, what: str) -> None:
    """:func:`resumable`'s check alone, for a caller that starts the work later (the HF trainer
    sets up its processes in between)."""
    from ..kit.devices import launched

    stamp = directory / "settings.json"
    if launched()[0] == 0 and directory.is_dir():
        claim(directory)
    if stamp.exists():
        if not resume:
            raise LlmrankError(f"{directory} holds {what}: pass --resume to continue it, or delete it to start over")
        before = json.loads(stamp.read_text())
        changed = sorted(k for k in key if before.get(k) != key[k])
        if changed:
            raise LlmrankError(f"--resume with different settings than the interrupted run: {', '.join(changed)}")


def mark_started(directory: Path, key: dict) -> None:
    """Once every process has checked: rank 0 writes the key and holds the directory."""
    from ..kit.devices import launched

    rank, world = launched()
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    stamp = directory / "settings.json"
    if rank == 0 and not stamp.exists():
        directory.mkdir(parents=True, exist_ok=True)
        claim(directory)
        with atomic_output(stamp) as f:
            json.dump(key, f, indent=2)


def train_epochs(net, groups, n_examples: int, loss: Callable, settings: LoopFields, generator,
                 device: str = "cpu", dtype=None, progress=None, watch: Watch | None = None) -> None:
    """``settings.epochs`` passes over ``n_examples`` in seeded random batches; ``loss(idx, epoch)``
    returns the scalar loss (a mean) over the example indices ``idx``.

    With ``watch.checkpoints`` the weights, optimizer, schedule, both random states and the log
    are saved after every epoch, and a run finding them continues after the last saved epoch
    with the result of an uninterrupted one.

    Under torchrun/accelerate every process draws the same batches, takes every WORLD_SIZE-th
    example of each, and the gradients are summed weighted by each share's size: every process
    then steps with the whole batch's gradient and all keep the same weights."""
    import math

    import torch

    from ..kit.devices import launched

    rank, world = launched()
    watch = watch or Watch()
    optimizer = make_optimizer(settings.optimizer, groups, settings.lr, settings.weight_decay)
    schedule = _schedule(optimizer, settings, math.ceil(n_examples / settings.batch_size) * settings.epochs)
    start = _restore(watch, net, optimizer, schedule, generator, progress) if watch.checkpoints else 0
    params = _trained(optimizer)
    net.train()
    for epoch in range(start, settings.epochs):
        losses = []
        for idx in torch.randperm(n_examples, generator=generator).split(settings.batch_size):
            mine = idx[rank::world]
            optimizer.zero_grad()
            value = None
            if len(mine):
                with autocast(device, dtype or torch.float32):
                    value = loss(mine, epoch)
                value.backward()
            if world > 1:
                _sum_gradients(optimizer, len(mine) / len(idx))
            norm = torch.nn.utils.clip_grad_norm_(params, settings.grad_clip or math.inf)
            rate = optimizer.param_groups[-1]["lr"]
            optimizer.step()
            if schedule is not None:
                schedule.step()
            losses.append(float(value.detach()) if value is not None else math.nan)
            watch.steps.append({"step": len(watch.steps) + 1, "loss": losses[-1], "learning_rate": rate,
                                "grad_norm": float(norm)})
        row = {"epoch": epoch + 1, "step": len(watch.steps), "train_loss": sum(losses) / max(len(losses), 1)}
        if watch.evaluate:
            net.eval()
            row.update(watch.evaluate())
            net.train()
        watch.epochs.append(row)
        if watch.checkpoints and rank == 0:
            save_checkpoint(watch.checkpoints / "last.pt", {
                "epoch": epoch + 1, "net": net.state_dict(), "params": params, "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict() if schedule else None, "generator": generator.get_state(),
                "rng": torch.get_rng_state(), "log": (watch.steps, watch.epochs)})
        if progress:
            progress.advance(1)
    net.eval()


def save_checkpoint(path: Path, state: dict) -> None:
    """An epoch's checkpoint, whole or not at all (a kill mid-write leaves the previous one)."""
    import torch

    with atomic_output(path, "wb") as f:
        torch.save(state, f)


def _schedule(optimizer, settings: LoopFields, total_steps: int):
    """Linear warmup, then constant, linear or cosine decay; None when there is nothing to
    schedule (no warmup, constant), so the learning rate is exactly --lr throughout."""
    if settings.scheduler == "constant" and not settings.warmup_steps:
        return None
    import transformers

    return transformers.get_scheduler(SCHEDULERS[settings.scheduler], optimizer, num_warmup_steps=settings.warmup_steps,
                                      num_training_steps=total_steps)


def _restore(watch: Watch, net, optimizer, schedule, generator, progress) -> int:
    """The epoch to continue from (0 without a checkpoint), with every state put back."""
    import torch

    path = watch.checkpoints / "last.pt"
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    net.load_state_dict(state["net"])
    with torch.no_grad():  # also those outside the net's module tree while it trains (a swapped-out top layer)
        for p, saved in zip(_trained(optimizer), state["params"]):
            p.copy_(saved)
    optimizer.load_state_dict(state["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["schedule"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["rng"])
    watch.steps[:], watch.epochs[:] = state["log"]
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
