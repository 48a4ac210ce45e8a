"""``rank``: topics ranked by BM25 (``passages.bm25``) or by a trained item ranker
(``items.rank``), into a TREC run or a Million LLMs submission."""
from __future__ import annotations

from dataclasses import replace

from ..formats import read_topics
from ..jobs.scoring import RankJob
from . import items, passages


def rank(job: RankJob, quiet: bool = False) -> str | None:
    """The report line of ``job`` done (None in launched processes other than rank 0)."""
    topic_list = read_topics(job.topics, job.topics_format, job.topics_field)
    if job.model == "bm25":
        done = passages.bm25(job, topic_list, quiet)
        return f"{done['topics']} queries ranked" + (f"; {done['empty']} retrieved nothing" if done["empty"] else "")
    done = items.rank(replace(job, tag=None if job.tag == "bm25" else job.tag),  # BM25's default is no model's tag
                      topic_list, quiet)
    return f"{done['topics']} queries ranked over {done['items']} items" if done else None
