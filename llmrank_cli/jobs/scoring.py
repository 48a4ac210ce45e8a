"""`rank` and `rerank`: a model's scores written as a run, in chunks that flush, resume and
shard."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import LlmrankError
from ..settings import setting, term
from . import Job, RuntimeFields, output, resume


@dataclass
class ScoringJob(RuntimeFields):
    """Where a model runs and where its run goes: `rank` and `rerank` alike."""

    resume: bool = resume(" scoring job from OUT.partial.")
    chunk_pairs: int = setting(512, "Pairs per chunk of queries: the unit of flushing, --resume, --shard and each "
                                    "process's share under torchrun.", min=1)
    topics_format: str = term("topics_format")
    topics_field: str = term("topics_field", choices=("title", "desc", "narr"))
    output: str = output("Output file, written atomically; - for stdout.", "-")

    def check_more(self) -> None:
        super().check_more()
        if self.output == "-" and self.resume:
            raise LlmrankError("--resume needs an output file (-o)")


@dataclass
class _RerankFields(Job):
    """`rerank`'s own fields (listed before the scoring job's: dataclasses put a base's first)."""

    run: str = setting(None, "Input run (TREC or MS MARCO); - for stdin.", required=True, exists=True)
    topics: str = setting(None, "Topics (TSV, SGML, XML, JSONL, CSV).", required=True, exists=True)
    corpus: str = setting(None, "Passages: JSONL/TSV/TREC/SMART file (.gz ok) or a Lucene index built with "
                                "--store-raw.", required=True, exists=True)
    model: str = setting(None, "Model directory, hub id, or an installed offline model name.", required=True)
    kind: str = setting("cross", "The passage ranker (its name or an alias; `llmrank rerank --help` lists them).")
    depth: int = term("depth", ": rescored; the rest keep their order below.", 100, min=1)
    batch_size: int = setting(64, "Most pairs in one forward pass.", min=1)
    max_length: Optional[int] = setting(None, "Token limit (none: the model's).", min=8)
    backend: str = setting("torch", "torch; for cross- and bi-encoders onnx, openvino (CPU; exported once, cached) "
                                    "or auto (openvino on a CPU when installed, else onnx, else torch); for the LLM "
                                    "rankers openai (a served model at --base-url) or vllm (vLLM's offline engine, "
                                    "on a GPU).", choices=("torch", "auto", "onnx", "openvino", "openai", "vllm"))
    quantize: str = setting("none", "none or int8 (with --backend onnx: dynamic; openvino: static, calibrated on "
                                    "the embedded sample).", choices=("none", "int8"))
    shard: Optional[str] = setting(None, "i/N: rerank every N-th chunk of queries only (join with `merge`).")
    tag: Optional[str] = setting(None, "Run tag (none: the input's).")



@dataclass
class RerankJob(ScoringJob, _RerankFields):
    """`rerank`: rescore the top ``depth`` of ``run`` with the passage ranker ``kind``; the
    ranker's own scoring settings travel beside the job."""

    def check_more(self) -> None:
        from .. import rankers

        super().check_more()
        cls = rankers.get(self.kind)  # an unknown kind: one line naming the known ones
        if cls.candidates != "passages":
            raise LlmrankError(f"--kind {self.kind} ranks items, not passages; passage rankers: "
                               f"{', '.join(rankers.names(candidates='passages'))}")
        if parse_shard(self.shard) and self.output == "-":
            raise LlmrankError("--shard needs an output file (-o)")


@dataclass
class _RankFields(Job):
    """`rank`'s own fields."""

    model: str = setting(None, "bm25 (with --index) or an item ranker's directory from `llmrank train`.",
                         required=True)
    topics: str = setting(None, "Topics (TSV, SGML, XML, JSONL, CSV, SMART).", required=True, exists=True)
    index: Optional[str] = setting(None, "Lucene index from `prepare index`.", exists=True)
    corpus: Optional[str] = setting(None, "Passages to rank, for a model trained on passages (lt-ttd on "
                                          "`prepare items --corpus` data).", exists=True)
    k: int = setting(1000, "Documents (items) per query.", min=1)
    k1: float = setting(0.9, "BM25 k1.")
    b: float = setting(0.4, "BM25 b.")
    rm3: bool = setting(False, "RM3 pseudo-relevance feedback (10 terms, 10 docs, 0.5).", names=("--rm3",))
    threads: int = setting(2, "Search threads.", min=1)
    tag: str = setting("bm25", "Run tag (pyserini's CLI uses 'Anserini').")
    fmt: str = setting("trec", "trec (the run TREC Million LLMs takes) or mllm (the CSV of the track's 2025 draft).",
                       choices=("trec", "mllm"),
                       names=("--format",))
    team_id: Optional[str] = setting(None, "team_id for --format mllm.")


@dataclass
class RankJob(ScoringJob, _RankFields):
    """`rank`: ``topics`` ranked by BM25 or a trained item ranker, into a run or a submission."""


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``--shard i/N`` as (i, N), 1 <= i <= N; None when not given."""
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise LlmrankError(f"--shard must look like i/N (e.g. 1/4), not {text!r}") from None
    if not 1 <= i <= n:
        raise LlmrankError(f"--shard {text}: need 1 <= i <= N")
    return i, n
