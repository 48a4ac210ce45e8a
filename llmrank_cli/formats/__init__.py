"""Every file format llmrank reads or writes, in one place.

Readers take a path, a ``.gz`` path, or ``-`` (stdin) and report bad input as
``FILE:LINE: problem``; writers are atomic. Names load their module on first use.
"""
from ..lazy import exports

_WHERE = {"read_categories": "categories", "read_submission": "mllm", "write_submission": "mllm",
          "Qrels": "qrels", "read_qrels": "qrels", "write_qrels": "qrels", "RUN_FORMATS": "runs", "Run": "runs",
          "read_run": "runs", "run_text": "runs", "write_run": "runs", "TOPIC_FIELDS": "topics",
          "TOPIC_FORMATS": "topics", "Topic": "topics", "read_topics": "topics", "write_topics": "topics"}
__all__ = sorted(_WHERE)
__getattr__ = exports(__name__, _WHERE)
