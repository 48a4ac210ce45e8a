"""Length-sorted, token-budget batches: the reason llmrank's rerankers beat a plain
``predict`` loop. Pairs are tokenised once, sorted by true token length (long first, so
memory peaks early), and packed so each batch holds about ``max_tokens`` tokens."""
from __future__ import annotations

import numpy as np


def token_batches(lengths: np.ndarray, batch_size: int, max_tokens: int):
    """Yield index arrays into ``lengths``; each batch has at most ``batch_size`` items."""
    order = np.argsort(-lengths, kind="stable")
    i = 0
    while i < len(order):
        longest = max(int(lengths[order[i]]), 1)
        size = max(1, min(batch_size, max_tokens // longest))
        yield order[i:i + size]
        i += size
