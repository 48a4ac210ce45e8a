"""Length-sorted, token-budget batches: the reason llmrank's rerankers beat a plain
``predict`` loop. Pairs are tokenised once, sorted by true token length (long first, so
memory peaks early), and packed so each batch holds about ``max_tokens`` tokens."""
from __future__ import annotations

import numpy as np

MAX_TOKENS = 8192  # tokens in one batch of the encoder rankers (cross, bi)
CALIBRATION_TOKENS = 1024  # in one batch of int8 calibration: NNCF holds every activation of a batch at once


def token_batches(lengths: np.ndarray, batch_size: int, max_tokens: int):
    """Yield index arrays into ``lengths``; each batch has at most ``batch_size`` items."""
    order = np.argsort(-lengths, kind="stable")
    i = 0
    while i < len(order):
        longest = max(int(lengths[order[i]]), 1)
        size = max(1, min(batch_size, max_tokens // longest))
        yield order[i:i + size]
        i += size


def padded_batches(tok, enc, batch_size: int, tensors: str = "pt", max_tokens: int = MAX_TOKENS):
    """(indices, padded inputs) of ``enc`` (a tokenizer's unpadded output) in token-budget batches."""
    lengths = np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64, count=len(enc["input_ids"]))
    for idx in token_batches(lengths, batch_size, max_tokens):
        yield idx, tok.pad({k: [enc[k][j] for j in idx] for k in enc.keys()}, return_tensors=tensors)


def truncated(tok, enc, max_length: int, *texts) -> int:
    """How many inputs ``enc`` (``tok(*texts, truncation=True)``) cut: a fast tokenizer keeps what it
    cut (its encodings' overflow), so only a slow one tokenizes again (tokenizing is most of the
    scoring time on a GPU)."""
    if getattr(enc, "encodings", None):
        return sum(bool(e.overflowing) for e in enc.encodings)
    return sum(len(ids) > max_length for ids in tok(*texts, truncation=False)["input_ids"])
