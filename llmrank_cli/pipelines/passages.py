"""Passage rankers' work: rerank a run's top-k, fine-tune a cross-encoder (with a rerank-and-eval
after every epoch, passed to the trainer as a callback), and k-fold CV by query."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from .. import rankers
from ..datasets import assign_folds
from ..datasets import passages as examples_from
from ..datasets.passages import passage_source
from ..errors import LlmrankError
from ..evaluation import evaluate, parse_measures
from ..formats import read_qrels, read_run, read_topics, write_run
from ..formats.corpus import read_passages
from ..formats.io import atomic_output
from ..jobs.scoring import RankJob, RerankJob, parse_shard
from ..jobs.training import PassageCvJob, PassageTrainJob
from ..manifest import fingerprint, write_manifest
from ..progress import Progress, note
from . import trainable
from .score import from_run, merge_runs, score_queries

# the thesis' measures on TREC DL (binary ones at label >= 2), MRR@10 last
EVAL_MEASURES = ["nDCG@10", "AP(rel=2)", "R(rel=2)@10", "Rprec(rel=2)", "P(rel=2)@10", "RR(rel=2)@10"]


def rerank(job: RerankJob, settings: dict, quiet: bool = False):
    """``job`` (checked), and ``settings``: the ranker's scoring settings given. Writes the run
    (and its manifest) and returns the scoring stats with the ranker."""
    name = rankers.canonical(job.kind)
    cls = rankers.get(name)
    candidates = read_run(job.run)
    queries = from_run(candidates, read_topics(job.topics, job.topics_format, job.topics_field), job.depth)
    ranker = cls.open(job.model, rankers.Runtime(job.device, job.dtype, job.backend, job.quantize), job.max_length,
                      job.batch_size, **settings)
    progress = Progress(f"rerank {name}", quiet)
    try:
        stats = score_queries(queries, ranker, job.output, passage_source(job.corpus), job.resume,
                              parse_shard(job.shard), job.tag or candidates.tag, progress, job.chunk_pairs)
    finally:
        progress.close()
        ranker.close()
    if stats.main and job.output != "-":
        write_manifest(job.output + ".manifest.json", "run", {
            "ranker": name, **ranker.manifest(), "settings": {k: getattr(ranker.settings, k) for k in sorted(
                f.name for f in fields(cls.Settings) if f.metadata.get("scoring"))},
            "run": job.run, "topics": job.topics, "corpus": job.corpus, "depth": job.depth, "shard": job.shard,
            "chunk_pairs": job.chunk_pairs, "queries": stats.queries, "pairs": stats.pairs})
    return stats, ranker


def bm25(job: RankJob, topics, quiet: bool = False) -> dict:
    """``rank --model bm25``: BM25 (optionally RM3) over the Lucene index ``job.index``, lines as
    pyserini's, a TREC run or (``job.fmt`` mllm) a submission; a manifest beside a file output."""
    from ..formats import write_submission
    from ..retrieval.bm25 import Bm25Searcher, pyserini_order, write_trec_run

    if job.index is None:
        raise LlmrankError("--model bm25 needs --index (build one with `llmrank prepare index`)")
    topic_list = pyserini_order(topics)
    searcher = Bm25Searcher(job.index, job.k1, job.b, job.rm3)
    progress = Progress("bm25", quiet, unit="queries")
    progress.start(len(topic_list))
    try:
        if job.fmt == "mllm":
            run = searcher.run(topic_list, job.k, job.threads, progress)
            write_submission(run, job.output, job.team_id or job.tag)
            retrieved = set(run.table["qid"].to_pylist())
        else:
            retrieved = write_trec_run(searcher, topic_list, job.k, job.threads, job.tag, job.output, progress)
    finally:
        progress.close()
    if job.output != "-":
        write_manifest(job.output + ".manifest.json", "run", {**searcher.config(), "topics": job.topics, "k": job.k})
    return {"topics": len(topic_list), "empty": len(topic_list) - len(retrieved)}


def training_settings(name: str, values: dict, teacher_run):
    """The trainer's settings from flag values; the loss follows the data (mse for a teacher)."""
    trainable(name, examples_from.PassageExamples)
    values = dict(values)
    values.setdefault("loss", "mse" if teacher_run else "bce")
    if (values["loss"] == "mse") != bool(teacher_run):
        raise LlmrankError("--loss mse learns a teacher's scores: it goes with --teacher-run, and only with it")
    return rankers.settings_for(name, **values)


def examples(job: PassageTrainJob | PassageCvJob, topic_list, seed: int, triples: str | None = None):
    """Training examples from the job's one source (checked when parsed): a teacher run, triples,
    or qrels + candidates."""
    if job.teacher_run:
        return examples_from.from_teacher(topic_list, read_run(job.teacher_run), job.corpus, job.teacher_depth)
    if triples:
        return examples_from.from_triples(triples, topic_list, job.corpus)
    return examples_from.from_judgements(topic_list, read_qrels(job.qrels), read_run(job.run), job.corpus,
                                         job.negatives, job.per_positive, job.rel_level, job.negatives_depth, seed)


def train(name: str, job: PassageTrainJob, values: dict, quiet: bool = False) -> dict | None:
    """Fine-tune a passage reranker with its ``trainer`` (the cross-encoder's: AdamW or Lion on
    the Hugging Face Trainer), evaluating every epoch; the output directory works with `llmrank
    rerank --model DIR`. Returns the training summary (None in launched processes other than
    rank 0)."""
    settings = training_settings(name, values, job.teacher_run)
    found = examples(job, read_topics(job.topics) if job.topics else None, settings.seed, job.triples)
    evaluation = None
    if job.eval_topics:
        evaluation = RerankEvaluation.from_files(job.eval_topics, job.eval_qrels, job.eval_run,
                                                 job.eval_corpus or job.corpus, job.measures or EVAL_MEASURES,
                                                 job.eval_depth, job.rel_level)
        evaluation.ranker, evaluation.settings = rankers.get(name), settings
    progress = Progress(f"train {name} ({settings.optimizer})", quiet, unit="steps")
    try:
        summary = rankers.get(name).trainer(settings, found, job.output, evaluation, job.resume, progress, note,
                                            runtime=rankers.Runtime(job.device, job.dtype))
    finally:
        progress.close()
    if not summary.pop("main"):
        return None
    inputs = {k: getattr(job, k) for k in ("topics", "qrels", "run", "corpus", "triples", "teacher_run",
                                           "eval_topics", "eval_qrels", "eval_run", "eval_corpus")}
    write_manifest(Path(job.output) / rankers.base.MANIFEST, name, {
        **vars(settings), "negatives": job.negatives, "negatives_per_positive": job.per_positive,
        "negatives_depth": job.negatives_depth, "rel_level": job.rel_level, "eval_depth": job.eval_depth,
        "device": job.device, "dtype": job.dtype, **({"teacher_depth": job.teacher_depth} if job.teacher_run else {}),
        "inputs": inputs, "data_fingerprint": fingerprint(*(p for p in inputs.values() if p)),
        "examples": found.stats, **summary}, ranker=name, settings=vars(settings))
    return summary


def cross_validate(name: str, job: PassageCvJob, values: dict, quiet: bool = False):
    """K-fold CV by query of a passage reranker: per fold, train on the other folds' topics and
    rerank the held-out topics' candidates; the out-of-fold run covers every topic once. Writes
    NAME.run and NAME.cv.json; returns (result, evaluation of the out-of-fold run)."""
    from .items import fold_spread

    settings = training_settings(name, values, job.teacher_run)
    cls, runtime = rankers.get(name), rankers.Runtime(job.device, job.dtype)
    topic_list, run = read_topics(job.topics), read_run(job.run)
    fold_of = assign_folds(len(topic_list), job.folds, settings.seed)
    out, held_runs = Path(job.output), []
    for k in range(job.folds):
        train_topics = [t for t, f in zip(topic_list, fold_of) if f != k]
        held = [t for t, f in zip(topic_list, fold_of) if f == k]
        model = out / f"fold-{k}"
        if not (job.resume and (model / "held-out.run").exists()):  # --resume keeps a finished fold
            progress = Progress(f"cv {name}: fold {k + 1}/{job.folds}", quiet, unit="steps")
            try:
                cls.trainer(settings, examples(job, train_topics, settings.seed), str(model), resume=job.resume,
                            progress=progress, note=note, runtime=runtime)
            finally:
                progress.close()
            ranker = cls.open(str(model), runtime, settings.max_length)
            score_queries(from_run(run.for_queries(t.qid for t in held), held, job.depth), ranker,
                          str(model / "held-out.run"), passage_source(job.corpus), resume=job.resume, tag=name)
        held_runs.append(read_run(model / "held-out.run"))
    oof = merge_runs(held_runs, [t for t in topic_list if t.qid in set(run.table["qid"].to_pylist())], tag=name)
    write_run(oof, out / f"{name}.run")
    ev = evaluate(read_qrels(job.qrels), read_run(out / f"{name}.run"), parse_measures(job.measures or EVAL_MEASURES))
    ev.run_name = f"{name} (out of fold)"
    result = {"ranker": name, "folds": job.folds, "seed": settings.seed, "queries": len(ev.qids),
              "config": vars(settings), "measures": fold_spread(ev, {t.qid: f for t, f in zip(topic_list, fold_of)},
                                                                 job.folds)}
    with atomic_output(out / f"{name}.cv.json") as f:
        json.dump(result, f, indent=2)
    return result, ev


@dataclass
class RerankEvaluation:
    """Rerank ``run``'s top ``depth`` for ``topics`` with the model in training and score it
    with llmrank's trec_eval-exact engine; the run stays on disk for ``llmrank eval``. The eval
    loss is the binary cross-entropy of the reranked pairs' probabilities against relevance
    (label >= rel_level, unjudged = not relevant): one forward pass serves both."""

    topics: list
    qrels: object
    run: object
    passages: dict
    measures: list
    depth: int = 100
    rel_level: int = 1
    batch_size: int = 64
    ranker: type | None = None  # the class being trained (default: the cross-encoder) and its settings:
    settings: object = None     # the model in training is judged on the inputs it will score

    @classmethod
    def from_files(cls, topics: str, qrels: str, run: str, corpus: str, measures: list[str], depth: int,
                   rel_level: int) -> "RerankEvaluation":
        """Read the eval set; the run keeps only the queries of ``topics`` (they may be a subset)
        and only its top ``depth`` passages are read from ``corpus``."""
        topic_list = read_topics(topics)
        candidates = read_run(run).for_queries(t.qid for t in topic_list)
        if not len(candidates):
            raise LlmrankError(f"{run}: no query of the eval topics {topics} is in this run")
        wanted = set(candidates.truncated(depth).table["docno"].to_pylist())
        return cls(topic_list, read_qrels(qrels), candidates, read_passages(corpus, wanted),
                   parse_measures(measures), depth, rel_level)

    def score(self, model, path: Path) -> dict[str, float]:
        from ..rankers.cross_encoder import CrossEncoderRanker

        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (".partial", ".partial.done"):  # an evaluation cut short by a kill
            Path(f"{path}{stale}").unlink(missing_ok=True)
        reranker = (self.ranker or CrossEncoderRanker).wrap(model, "in-training", self.batch_size, str(model.device),
                                                            settings=self.settings)
        score_queries(from_run(self.run, self.topics, self.depth), reranker, str(path), lambda wanted: self.passages,
                      tag=self.run.tag, share=False)
        run = read_run(path)
        result = evaluate(self.qrels, run, self.measures)
        return {"loss": self._bce(run), **{m.label: float(v) for m, v in zip(self.measures, result.aggregate())}}

    def _bce(self, run) -> float:
        import numpy as np

        top = run.truncated(self.depth).table
        labels = {(q, d): r for q, d, r in zip(*(self.qrels.table[c].to_pylist() for c in ("qid", "docno", "rel")))}
        y = np.array([labels.get(k, 0) >= self.rel_level for k in zip(top["qid"].to_pylist(),
                                                                        top["docno"].to_pylist())], dtype=float)
        p = np.clip(top["score"].to_numpy(), 1e-7, 1 - 1e-7)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
