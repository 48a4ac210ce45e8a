"""The feed-forward towers of the item rankers (two-tower, lt-ttd): one builder, so that saved
models keep their layer indices (a state dict's keys) whichever ranker made them."""


def mlp(sizes: list[int], dropout: float | None = None, zero_last: bool = False):
    """Linear layers of ``sizes`` with ReLU between them, and a Dropout after each ReLU when
    ``dropout`` is given (even 0: the layer's place is part of the saved keys); ``zero_last``
    starts the last layer at zero (a residual that begins as no change)."""
    import torch.nn as nn

    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU()] + ([nn.Dropout(dropout)] if dropout is not None else [])
    if zero_last:
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)
