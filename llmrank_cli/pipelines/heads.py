"""ICR's heads workflow: cache each topic's per-head scores once (``prepare``), train a head
router on them (``train``) and evaluate routers against all heads and an oracle from the cache
(``evaluate``)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .. import rankers
from ..datasets.heads import HeadsData, greedy_heads, load_heads, prepare_heads
from ..datasets.passages import passage_source
from ..errors import LlmrankError
from ..evaluation import evaluate as evaluate_run, parse_measures
from ..formats import Run, read_qrels, read_run, read_topics, write_run
from ..jobs.training import HeadsPrepareJob, HeadsTrainJob
from ..progress import Progress, note
from . import trainable
from .score import from_run, with_rest


def prepare(job: HeadsPrepareJob, quiet: bool = False) -> Path:
    """The heads directory of ``job``, resumable."""
    icr = rankers.get("icr").open(job.model, rankers.Runtime(job.device, job.dtype), job.max_length, window=job.window)
    queries = from_run(read_run(job.run), read_topics(job.topics), job.window)
    wanted = {d for q in queries for d in q.top}
    texts = passage_source(job.corpus)(wanted)
    missing = sorted(wanted - texts.keys())
    if missing:
        raise LlmrankError(f"{len(missing)} run passages are not in {job.corpus} (first: {missing[0]})")
    progress = Progress("prepare heads", quiet, unit="queries")
    progress.start(len(queries))
    try:
        return prepare_heads(icr, queries, texts, job.qrels, job.output,
                             round(job.state_fraction * icr.lm.config.num_hidden_layers), progress)
    finally:
        progress.close()


def train(name: str, job: HeadsTrainJob, settings: dict, quiet: bool = False) -> Path:
    """Train a head router on a heads directory (``job.data``); with ``job.eval_data``, evaluate
    it on another."""
    trainable(name, HeadsData)
    data = load_heads(job.data)
    ranker = rankers.create(name, **settings)
    progress = Progress(f"train {name}", quiet, unit="epochs")
    progress.start(ranker.settings.epochs)
    try:
        ranker.fit(data, job.seed, progress)
    finally:
        progress.close()
    out = ranker.save(job.output, {"seed": job.seed, "heads": job.data})
    if job.eval_data:
        evaluate(ranker, load_heads(job.eval_data), Path(job.output) / "eval")
    return out


def evaluate(ranker, data, out: Path) -> dict[str, float]:
    """Runs of a heads directory from its cached scores: the router, all heads (ICR) and each
    query's greedy head set (an in-sample bound), written to ``out``; their nDCG@10."""
    ranker.check_lm(data.meta["lm"], SimpleNamespace(num_hidden_layers=data.meta["layers"],
                                                     num_attention_heads=data.meta["heads"],
                                                     hidden_size=data.meta["hidden"]))
    oracle = np.zeros(data.scores.shape[::2])
    for q in range(len(data.qids)):
        oracle[q, greedy_heads(data, q, ranker.settings.max_heads)] = 1.0
    weights = {ranker.name + ("-static" if ranker.settings.static else ""): ranker.weights(data.states),
               "all-heads": np.ones(data.scores.shape[::2]), "oracle": oracle}
    out.mkdir(parents=True, exist_ok=True)
    qrels, found = read_qrels(data.path / "qrels.txt"), {}
    for label, w in weights.items():
        qid, doc, score = [], [], []
        for q, (top, rest) in enumerate(zip(data.top, data.rest)):
            qid += [data.qids[q]] * (len(top) + len(rest))
            doc += top + rest
            score += with_rest(data.scores[q, :len(top)] @ w[q], len(rest))
        run = Run.from_columns(qid, doc, score, tag=label)
        write_run(run, out / f"{label}.run")
        found[label] = evaluate_run(qrels, run, parse_measures(["nDCG@10"])).aggregate()[0]
        note(f"{data.path}: {label} nDCG@10 {found[label]:.4f} ({out / label}.run)")
    return found
