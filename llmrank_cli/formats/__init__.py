"""Every file format llmrank reads or writes, in one place.

Readers take a path, a ``.gz`` path, or ``-`` (stdin) and report bad input as
``FILE:LINE: problem``; writers are atomic.
"""
from .categories import read_categories
from .mllm import read_submission, write_submission
from .qrels import Qrels, read_qrels, write_qrels
from .runs import RUN_FORMATS, Run, read_run, run_text, write_run
from .topics import TOPIC_FIELDS, TOPIC_FORMATS, Topic, read_topics, write_topics

__all__ = ["Qrels", "RUN_FORMATS", "Run", "TOPIC_FIELDS", "TOPIC_FORMATS", "Topic", "read_categories", "read_qrels",
           "read_run", "read_submission", "run_text", "read_topics", "write_qrels", "write_run",
           "write_submission", "write_topics"]
