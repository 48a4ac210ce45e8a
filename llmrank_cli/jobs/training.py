"""`train NAME` and `cv NAME`: one pair of jobs per kind of example a ranker learns from (its
``trains_on``): item data directories, passage examples, cached heads. The ranker's own
settings travel beside the job."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import LlmrankError
from ..settings import setting, term
from . import Job, RuntimeFields, output, resume

MEASURES_HELP = ("Eval measures (first = primary); default nDCG@10 AP(rel=2) R(rel=2)@10 Rprec(rel=2) P(rel=2)@10 "
                 "RR(rel=2)@10.")
PREPARED_FOLDS = 2  # the folds of a data directory `train` prepares itself from --topics/--qrels


def _measures():
    return setting([], MEASURES_HELP, names=("-m", "--measure"), repeated=True)


def _teacher_run(help: str):
    return setting(None, help, exists=True)


# ---- item rankers: a data directory from `prepare mllm|items` ----

@dataclass
class _ItemDataFields(RuntimeFields):
    """Flags of `train NAME` and `cv NAME` for item rankers."""

    weak_labels: float = setting(0.0, "Add this weight x discovery-data weak credit (substantive answers to similar "
                                      "discovery queries) to the training gains; 0 = off.", min=0.0)
    seed: int = term("seed", " (folds, initialisation, batches).")


@dataclass
class _ItemTrainFields(Job):
    data: Optional[str] = setting(None, "Data directory from `prepare mllm|items`.", exists=True)
    topics: Optional[str] = setting(None, "Instead of --data: topics...", exists=True)
    qrels: Optional[str] = setting(None, "...their qrels...", exists=True)
    corpus: Optional[str] = setting(None, "...and optionally a corpus whose passages are the items (as `prepare "
                                          "items`; written to OUT/data).", exists=True)
    run: Optional[str] = setting(None, "With --corpus: each query's items are this run's top --depth passages "
                                       "(language rankers).", exists=True)
    depth: int = term("depth", " (--run, --teacher-run): a query's candidates.", 100, min=1)
    teacher_run: Optional[str] = _teacher_run(
        "With --topics and --corpus, instead of --qrels/--run (language rankers): each query's pool is this run's top "
        "--depth passages, its scores the graded labels to learn (e.g. a bi-encoder's from `llmrank rerank`).")
    fold: Optional[int] = setting(None, "Hold out this fold (train on the others).", min=0)
    all_: bool = setting(False, "Train on every query.", names=("--all",))
    resume: bool = resume(" training from its last epoch (OUT/checkpoints/).")
    output: str = output("Model directory.")


@dataclass
class ItemTrainJob(_ItemDataFields, _ItemTrainFields):
    """`train NAME` of an item ranker: a data directory (or the files to prepare one), --fold K
    or --all."""

    def check_more(self) -> None:
        super().check_more()
        if (self.fold is None) == (not self.all_):
            raise LlmrankError("give exactly one of --fold K or --all")
        if self.data and any((self.topics, self.qrels, self.corpus, self.run, self.teacher_run)):
            raise LlmrankError("give --data DIR or --topics/--qrels/--corpus/--run/--teacher-run, not both")
        if self.teacher_run and (self.qrels or self.run or not (self.topics and self.corpus)):
            raise LlmrankError("--teacher-run takes --topics and --corpus and replaces --qrels and --run")
        if not self.data and not (self.topics and (self.qrels or self.teacher_run)):
            raise LlmrankError("give --data DIR, or --topics and --qrels (and --corpus for passages as items)")
        meta = Path(self.data or "") / "data.json"  # no data.json: load_items says what the directory lacks
        folds = json.loads(meta.read_text())["folds"] if self.data and meta.exists() else PREPARED_FOLDS
        if self.fold is not None and self.fold >= folds and (meta.exists() or not self.data):
            # else it trains on every query and judges none
            raise LlmrankError(f"--fold {self.fold}: {self.data or 'the prepared data'} has folds 0 to {folds - 1}")


@dataclass
class _ItemCvFields(Job):
    data: str = setting(None, "Data directory from `prepare mllm|items`.", required=True, exists=True)
    folds: Optional[int] = setting(None, "Folds (default: the data directory's).", min=2)
    resume: bool = resume(" cv: its finished folds (OUT/NAME.folds/) are not trained again.")
    output: str = output("Directory for the OOF run and the metrics JSON.")


@dataclass
class ItemCvJob(_ItemDataFields, _ItemCvFields):
    """`cv NAME` of an item ranker on a data directory."""


# ---- passage rerankers: examples drawn from qrels and a run, triples, or a teacher run ----

@dataclass
class _ExampleFields(RuntimeFields):
    """How `train NAME` and `cv NAME` draw a passage reranker's examples."""

    negatives: str = setting("hard", "hard (from --run) or random (from --corpus).", choices=("hard", "random"))
    per_positive: int = setting(4, "Negatives sampled per positive.", min=1, names=("--negatives-per-positive",))
    negatives_depth: int = setting(100, "Hard negatives come from this top.", min=1)
    rel_level: int = term("rel_level", ": the lowest label of a positive (TREC DL: 2).")
    teacher_depth: int = setting(100, "Teacher pairs per topic (--teacher-run).", min=1)


@dataclass
class _PassageTrainFields(Job):
    topics: Optional[str] = setting(None, "Training topics.", exists=True)
    qrels: Optional[str] = setting(None, "Training qrels: positives are labels >= --rel-level.", exists=True)
    run: Optional[str] = setting(None, "Run whose non-relevant top documents are the hard negatives.", exists=True)
    corpus: Optional[str] = setting(None, "Passage texts (JSONL/TSV/TREC/SMART, .gz ok).", exists=True)
    triples: Optional[str] = setting(None, "MS MARCO triples instead of qrels: qid/pos/neg ids (with --topics, "
                                           "--corpus) or texts.", exists=True)
    teacher_run: Optional[str] = _teacher_run(
        "Distil this run's scores (e.g. a bi-encoder's from `llmrank rerank`) on the topics' top --teacher-depth "
        "instead of learning from qrels.")
    eval_topics: Optional[str] = setting(None, "Evaluate after every epoch on these...", exists=True)
    eval_qrels: Optional[str] = setting(None, "...judgements...", exists=True)
    eval_run: Optional[str] = setting(None, "...reranking this run's top --eval-depth.", exists=True)
    eval_corpus: Optional[str] = setting(None, "Passages of the eval run (default: --corpus).", exists=True)
    eval_depth: int = setting(100, "Rerank the eval run's top N.", min=1)
    measures: list = _measures()
    resume: bool = resume(" training from its last checkpoint.")
    output: str = output("Model directory (a CrossEncoder directory).")


def _one_source(job, triples: str | None) -> None:
    """A passage reranker learns from one source: a teacher run, triples, or qrels + a run."""
    if job.teacher_run:
        if not (job.topics and job.corpus):
            raise LlmrankError("--teacher-run needs --topics and --corpus")
        if job.qrels or job.run or triples:
            raise LlmrankError("--teacher-run replaces --qrels, --run and --triples: give one source")
    elif not triples and not (job.topics and job.qrels and job.run and job.corpus):
        raise LlmrankError("give --topics, --qrels, --run and --corpus (or --triples)")


@dataclass
class PassageTrainJob(_ExampleFields, _PassageTrainFields):
    """`train NAME` of a passage reranker, evaluated after every epoch when given an eval set."""

    def check_more(self) -> None:
        super().check_more()
        _one_source(self, self.triples)
        if any((self.eval_topics, self.eval_qrels, self.eval_run)) and not (
                all((self.eval_topics, self.eval_qrels, self.eval_run)) and (self.eval_corpus or self.corpus)):
            raise LlmrankError("evaluation needs --eval-topics, --eval-qrels, --eval-run and a corpus")


@dataclass
class _PassageCvFields(Job):
    topics: str = setting(None, "Topics, split into folds by query.", required=True, exists=True)
    qrels: str = setting(None, "Qrels: training positives (>= --rel-level) and evaluation.", required=True,
                         exists=True)
    run: str = setting(None, "Run to rerank: hard negatives for training, its held-out queries' top --depth for "
                             "scoring.", required=True, exists=True)
    corpus: str = setting(None, "Passage texts (JSONL/TSV/TREC/SMART, .gz ok).", required=True, exists=True)
    teacher_run: Optional[str] = _teacher_run("Distil this run's scores on the training folds' topics instead of "
                                              "learning from qrels.")
    folds: int = setting(10, "Query folds for cross-validation.", min=2)
    depth: int = term("depth", ": reranked for the held-out queries.", 100, min=1)
    measures: list = _measures()
    resume: bool = resume(" cv: finished folds (fold-K/held-out.run) are kept, an interrupted fold's training "
                          "continues from its last checkpoint.")
    output: str = output("Directory: fold-K/ models, NAME.run (out of fold), NAME.cv.json.")


@dataclass
class PassageCvJob(_ExampleFields, _PassageCvFields):
    """`cv NAME` of a passage reranker: folds by topic of one judged run (with --teacher-run, the
    training folds learn the teacher's scores; the qrels and the run still judge and feed the
    held-out folds)."""


# ---- head routers: per-head scores cached by `prepare heads` ----

@dataclass
class HeadsTrainJob(Job):
    """`train NAME` of a head router on a heads directory."""

    data: str = setting(None, "Heads directory from `prepare heads` (training queries).", required=True, exists=True)
    eval_data: Optional[str] = setting(None, "Another heads directory: write OUT/eval/ runs of this model, all heads "
                                             "(ICR), and the per-query oracle, from its cached scores.", exists=True)
    seed: int = term("seed", ".")
    output: str = output("Model directory (for rerank --kind icr --model DIR).")


@dataclass
class HeadsPrepareJob(RuntimeFields):
    """`prepare heads`: each topic's per-head ICR scores and its query's LM state, cached once."""

    model: str = setting(None, "Causal LM (hub id, directory, or smollm2-135m).", required=True)
    run: str = setting(None, "First-stage run: each topic's top --window are scored.", required=True, exists=True)
    topics: str = setting(None, "Topics of the run.", required=True, exists=True)
    corpus: str = setting(None, "Passage texts (JSONL/TSV/TREC/SMART, .gz ok).", required=True, exists=True)
    qrels: str = setting(None, "Judgements: RouteHead's pseudo labels and evaluation.", required=True, exists=True)
    output: str = output("Heads directory to write.")
    window: int = setting(20, "Candidates per topic, in one prompt.", min=1)
    max_length: Optional[int] = setting(None, "Tokens kept of each passage (300).", min=8)
    state_fraction: float = setting(0.6, "The query state is read after layer round(F x layers).", min=0.0, max=1.0)


TRAIN_JOBS = {"ItemData": ItemTrainJob, "PassageExamples": PassageTrainJob, "HeadsData": HeadsTrainJob}
CV_JOBS = {"ItemData": ItemCvJob, "PassageExamples": PassageCvJob}


def train_job(ranker: type) -> type:
    """The job of `train NAME` for a ranker class, by the examples it learns from."""
    return TRAIN_JOBS[ranker.trains_on.__name__]


def cv_job(ranker: type) -> type | None:
    """The job of `cv NAME` (None: the ranker has no cv)."""
    return CV_JOBS.get(ranker.trains_on.__name__)
