"""``rank``: topics ranked by BM25 (``passages.bm25``) or by a trained item ranker
(``items.rank``), into a TREC run or a Million LLMs submission."""
from __future__ import annotations

from ..errors import LlmrankError
from ..formats import read_topics
from . import items, passages


def rank(a, quiet: bool = False) -> str | None:
    """``a``: rank's flags. The report line (None in launched processes other than rank 0)."""
    if a.fmt not in ("trec", "mllm"):
        raise LlmrankError("--format must be trec or mllm")
    topic_list = read_topics(a.topics, a.topics_format, a.topics_field)
    if a.model == "bm25":
        done = passages.bm25(a, topic_list, quiet)
        return f"{done['topics']} queries ranked" + (f"; {done['empty']} retrieved nothing" if done["empty"] else "")
    a.tag = None if a.tag == "bm25" else a.tag  # the BM25 default is no model's tag
    done = items.rank(a, topic_list, quiet)
    return f"{done['topics']} queries ranked over {done['items']} items" if done else None
