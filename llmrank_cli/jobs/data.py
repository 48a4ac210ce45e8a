"""`prepare mllm` and `prepare items`: the jobs that write a data directory (topics, qrels, the
item pool, folds, cached query embeddings)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import LlmrankError
from ..settings import setting, term
from . import DeviceFields, Job, output


@dataclass
class _DataDirectoryFields(DeviceFields):
    """The flags of every data directory."""

    categories: Optional[str] = setting(None, "qid<TAB>category for every query (per-category features and "
                                              "results).", exists=True)
    gains: Optional[str] = setting(None, "Label gains, e.g. 0=0,1=1.0,2=0.7.")
    folds: int = setting(10, "Query folds for cross-validation.", min=2)
    seed: int = term("seed", " (folds).")
    encoder: str = setting("all-MiniLM-L6-v2", "Frozen sentence encoder for queries.")
    layer_states: bool = setting(False, "Also keep each query's mean-pooled output of every encoder layer (fp16; "
                                        "lt-ttd needs them).")
    output: str = output("Data directory to write.")

    def check_more(self) -> None:
        super().check_more()
        if self.gains:
            from ..evaluation import parse_gains

            parse_gains(self.gains)


@dataclass
class _MllmFields(Job):
    queries: str = setting(None, "Track dev queries, qid<TAB>text (llm_dev_data.tsv).", required=True, exists=True)
    qrels: str = setting(None, "Track qrels: qid 0 llm_id label (1 best, 2 second, 0 other).", required=True,
                         exists=True)
    discovery: list = setting([], "Discovery JSON file(s), streamed.", repeated=True, exists=True)
    metadata: list = setting([], "Discovery metadata JSON (the same responses with token log-probs, 2026), "
                                 "streamed.", repeated=True, exists=True)


@dataclass
class MllmPrepareJob(_DataDirectoryFields, _MllmFields):
    """`prepare mllm`: the Million LLMs track's files as a data directory."""

    def check_more(self) -> None:
        super().check_more()
        if self.metadata and not self.discovery:
            raise LlmrankError("--metadata adds log-probs to the responses of --discovery; give both")


@dataclass
class _ItemsFields(Job):
    topics: str = setting(None, "Topics (any format llmrank reads).", required=True, exists=True)
    qrels: str = setting(None, "TREC qrels whose documents are a fixed item pool.", required=True, exists=True)
    corpus: Optional[str] = setting(None, "Passages as items: every passage of this file, embedded once by "
                                          "--encoder (for lt-ttd).", exists=True)
    responses: Optional[str] = setting(None, "Each query's candidate texts (JSONL qid/llm/response: the LLMs' "
                                             "answers), for rankers that read them.", exists=True)
    scores: Optional[str] = setting(None, "Raw labels, qid<TAB>llm<TAB>label (e.g. 1-10 scores): language rankers' "
                                          "graded labels.", exists=True)
    run: Optional[str] = setting(None, "With --corpus: each query's pool is this run's top --depth passages, kept "
                                       "as texts (language rankers).", exists=True)
    depth: int = term("depth", " (--run): a query's candidates.", 100, min=1)


@dataclass
class ItemsPrepareJob(_DataDirectoryFields, _ItemsFields):
    """`prepare items`: any topics and qrels over a fixed item pool, a corpus's passages, or a
    run's candidates."""
