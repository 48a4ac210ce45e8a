"""Typed jobs: one dataclass per verb, its fields declared once with the metadata the rankers'
settings use (help, default, range, choices), read by three users: the command's flags are
generated from it (``cli/flags.py``), the pipeline takes it whole (never a namespace), and the
Python API builds it from keyword arguments (``verbs.py``). :meth:`Job.check` runs as the flags
are parsed, before any file is read or written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import LlmrankError
from .settings import Settings, setting


@dataclass
class Job(Settings):
    """What every job checks when parsed: its own ranges and choices (Settings.check), then
    what :meth:`check_more` adds."""

    def check(self) -> "Job":
        super().check()
        self.check_more()
        return self

    def check_more(self) -> None:
        """Checks beyond ranges and choices, still before any file is read."""


@dataclass
class ScoringJob(Job):
    """Where a model runs and where its run goes: `rank` and `rerank` alike."""

    device: str = setting("auto", "auto, cpu, cuda or mps (under torchrun: each process's GPU).")
    dtype: str = setting("auto", "auto (bf16 on a GPU that has it, else fp32), fp32, bf16 or fp16.",
                         choices=("auto", "fp32", "bf16", "fp16"))
    resume: bool = setting(False, "Continue an interrupted scoring job from OUT.partial.", names=("--resume",))
    chunk_pairs: int = setting(512, "Pairs per chunk of queries: the unit of flushing, --resume, --shard and each "
                                    "process's share under torchrun.", min=1)
    topics_format: str = setting("auto", "auto, tsv, sgml, xml, jsonl, csv or smart.")
    topics_field: str = setting("title", "SGML/XML field: title, desc or narr.", choices=("title", "desc", "narr"))
    output: str = setting("-", "Output file, written atomically; - for stdout.", names=("-o", "--output"))

    def check_more(self) -> None:
        from .kit.devices import check_device

        check_device(self.device)
        if self.output == "-" and self.resume:
            raise LlmrankError("--resume needs an output file (-o)")


@dataclass
class _RerankFields(Job):
    """`rerank`'s own fields (listed before the scoring job's: dataclasses put a base's first)."""

    run: str = setting(None, "Input run (TREC or MS MARCO); - for stdin.", required=True)
    topics: str = setting(None, "Topics (TSV, SGML, XML, JSONL, CSV).", required=True)
    corpus: str = setting(None, "Passages: JSONL/TSV/TREC/SMART file (.gz ok) or a Lucene index built with "
                                "--store-raw.", required=True)
    model: str = setting(None, "Model directory, hub id, or an installed offline model name.", required=True)
    kind: str = setting("cross", "The passage ranker (its name or an alias; `llmrank rerank --help` lists them).")
    depth: int = setting(100, "Rescore the top N; the rest keep their order below.", min=1)
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
        from . import rankers

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
    topics: str = setting(None, "Topics (TSV, SGML, XML, JSONL, CSV, SMART).", required=True)
    index: Optional[str] = setting(None, "Lucene index from `prepare index`.")
    corpus: Optional[str] = setting(None, "Passages to rank, for a model trained on passages (lt-ttd on "
                                          "`prepare items --corpus` data).")
    k: int = setting(1000, "Documents (items) per query.", min=1)
    k1: float = setting(0.9, "BM25 k1.")
    b: float = setting(0.4, "BM25 b.")
    rm3: bool = setting(False, "RM3 pseudo-relevance feedback (10 terms, 10 docs, 0.5).", names=("--rm3",))
    threads: int = setting(2, "Search threads.", min=1)
    tag: str = setting("bm25", "Run tag (pyserini's CLI uses 'Anserini').")
    fmt: str = setting("trec", "trec or mllm (Million LLMs submission CSV).", choices=("trec", "mllm"),
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
