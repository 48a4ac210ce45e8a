"""Item-ranker losses and training loop.

Item rankers train on tensors built once: the frozen encoder ran when the data was prepared,
so an epoch is only small matrix products over (queries x items) gains.
"""
from __future__ import annotations

import numpy as np

from ..errors import LlmrankError
from .optimizers import make_optimizer

def _negative_mask(scores, gains, cfg: dict, epoch: int, generator):
    """Which non-positive items compete in the softmax: all of them, or (hard-negative mining)
    the top-scored ones, mixed with random easy ones during a curriculum."""
    import torch

    negative = gains <= 0
    if not cfg["hard_negatives"] or epoch < cfg["curriculum_epoch"]:
        return negative
    n_hard = min(cfg["n_hard"], negative.shape[1])
    masked = scores.detach().masked_fill(~negative, float("-inf"))
    keep = torch.zeros_like(negative)
    n_top = max(1, round(n_hard * cfg["hard_fraction"]))
    keep.scatter_(1, masked.topk(n_top, dim=1).indices, True)
    n_easy = n_hard - n_top
    if n_easy > 0:
        noise = torch.rand(scores.shape, generator=generator).masked_fill(~negative | keep, -1.0)
        keep.scatter_(1, noise.topk(n_easy, dim=1).indices, True)
    return keep & negative


def infonce_loss(scores, gains, cfg: dict, epoch: int, generator):
    """Cross-entropy between the gain distribution over positives and a softmax over positives
    and the chosen negatives, at temperature cfg['temperature']."""
    import torch

    positive = gains > 0
    candidates = positive | _negative_mask(scores, gains, cfg, epoch, generator)
    logits = (scores / cfg["temperature"]).masked_fill(~candidates, float("-inf"))
    target = gains.clamp(min=0) / gains.clamp(min=0).sum(dim=1, keepdim=True)
    log_p = torch.log_softmax(logits, dim=1).masked_fill(~candidates, 0.0)
    return -(target * log_p).sum(dim=1).mean()


def margin_loss(scores, gains, cfg: dict, epoch: int, generator, pairs: int = 16):
    """Margin ranking on sampled (better, worse) item pairs per query."""
    import torch

    n = gains.shape[1]
    a = torch.randint(n, (gains.shape[0], pairs), generator=generator)
    b = torch.randint(n, (gains.shape[0], pairs), generator=generator)
    ga, gb = gains.gather(1, a), gains.gather(1, b)
    sa, sb = scores.gather(1, a), scores.gather(1, b)
    sign = torch.sign(ga - gb)
    valid = sign != 0
    if not valid.any():
        return scores.sum() * 0.0
    return torch.relu(cfg["margin"] - sign * (sa - sb))[valid].mean()


def head_diversity(head_out) -> "object":
    """Mean squared cosine similarity between query heads: low when heads differ."""
    import torch

    if not head_out or len(head_out) < 2:
        return 0.0
    heads = [torch.nn.functional.normalize(h, dim=-1) for h in head_out]
    sims = [(heads[i] * heads[j]).sum(-1).pow(2).mean() for i in range(len(heads)) for j in range(i + 1, len(heads))]
    return torch.stack(sims).mean()


LOSSES = {"infonce": infonce_loss, "margin": margin_loss}


def train_scorer(net, embeddings: np.ndarray, gains: np.ndarray, cfg: dict, seed: int, progress=None) -> None:
    """Minibatch training of a (queries -> item scores) network; queries without any positive
    item carry no ranking signal and are skipped."""
    import torch

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    keep = gains.max(axis=1) > 0
    x = torch.as_tensor(embeddings[keep], dtype=torch.float32)
    g = torch.as_tensor(gains[keep], dtype=torch.float32)
    if len(x) == 0:
        raise LlmrankError("no training query has a positive label")
    optimizer = make_optimizer(cfg["optimizer"], net.parameters(), cfg["lr"], cfg["weight_decay"])
    loss_fn = LOSSES[cfg["loss"]]
    net.train()
    for epoch in range(cfg["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), cfg["batch_size"]):
            idx = order[start:start + cfg["batch_size"]]
            scores, head_out = net(x[idx])
            loss = loss_fn(scores, g[idx], cfg, epoch, generator)
            if cfg["diversity"]:
                loss = loss + cfg["diversity"] * head_diversity(head_out)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if progress:
            progress.advance(1)
    net.eval()
