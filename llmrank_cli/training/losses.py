"""Item-ranker losses over (queries x items) score and gain matrices; ``cfg`` is the ranker's
settings (temperature, margin, hard-negative curriculum). Random draws come from the training
loop's seeded generator, on the CPU, so every device sees the same draws."""
from __future__ import annotations


def _negative_mask(scores, gains, cfg, epoch: int, generator):
    """Which non-positive items compete in the softmax: all of them, or (hard-negative mining)
    the top-scored ones, mixed with random easy ones during a curriculum."""
    import torch

    negative = gains <= 0
    if not cfg.hard_negatives or epoch < cfg.curriculum_epoch:
        return negative
    n_hard = min(cfg.n_hard, negative.shape[1])
    masked = scores.detach().masked_fill(~negative, float("-inf"))
    keep = torch.zeros_like(negative)
    n_top = max(1, round(n_hard * cfg.hard_fraction))
    keep.scatter_(1, masked.topk(n_top, dim=1).indices, True)
    n_easy = n_hard - n_top
    if n_easy > 0:
        noise = torch.rand(scores.shape, generator=generator).to(scores.device).masked_fill(~negative | keep, -1.0)
        keep.scatter_(1, noise.topk(n_easy, dim=1).indices, True)
    return keep & negative


def infonce_loss(scores, gains, cfg, epoch: int, generator):
    """Cross-entropy between the gain distribution over positives and a softmax over positives
    and the chosen negatives, at temperature cfg.temperature."""
    import torch

    positive = gains > 0
    candidates = positive | _negative_mask(scores, gains, cfg, epoch, generator)
    logits = (scores / cfg.temperature).masked_fill(~candidates, float("-inf"))
    target = gains.clamp(min=0) / gains.clamp(min=0).sum(dim=1, keepdim=True)
    log_p = torch.log_softmax(logits, dim=1).masked_fill(~candidates, 0.0)
    return -(target * log_p).sum(dim=1).mean()


def margin_loss(scores, gains, cfg, epoch: int, generator, pairs: int = 16):
    """Margin ranking on sampled (better, worse) item pairs per query."""
    import torch

    n = gains.shape[1]
    a = torch.randint(n, (gains.shape[0], pairs), generator=generator).to(gains.device)
    b = torch.randint(n, (gains.shape[0], pairs), generator=generator).to(gains.device)
    ga, gb = gains.gather(1, a), gains.gather(1, b)
    sa, sb = scores.gather(1, a), scores.gather(1, b)
    sign = torch.sign(ga - gb)
    valid = sign != 0
    if not valid.any():
        return scores.sum() * 0.0
    return torch.relu(cfg.margin - sign * (sa - sb))[valid].mean()


def head_diversity(head_out) -> "object":
    """Mean squared cosine similarity between query heads: low when heads differ."""
    import torch

    if not head_out or len(head_out) < 2:
        return 0.0
    heads = [torch.nn.functional.normalize(h, dim=-1) for h in head_out]
    sims = [(heads[i] * heads[j]).sum(-1).pow(2).mean() for i in range(len(heads)) for j in range(i + 1, len(heads))]
    return torch.stack(sims).mean()


LOSSES = {"infonce": infonce_loss, "margin": margin_loss}
