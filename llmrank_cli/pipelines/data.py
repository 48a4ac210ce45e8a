"""Data directories for item rankers (``prepare mllm``, ``prepare items``): the inputs read and
handed to ``datasets.prepare_items`` with the job's gains, folds and encoder."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..jobs.data import ItemsPrepareJob, MllmPrepareJob


def prepare_mllm(job: MllmPrepareJob) -> Path:
    """The Million LLMs track's files (queries, qrels, discovery and its metadata, streamed)."""
    from ..datasets import MLLM_GAINS, MLLM_GAINS_SOURCE
    from ..datasets.discovery import read_discovery
    from ..formats import read_qrels, read_topics
    from ..progress import note

    if not job.gains:
        mapping = ",".join(f"{k}={v:g}" for k, v in MLLM_GAINS.items())
        note(f"gains {mapping}: {MLLM_GAINS_SOURCE}; the track's labels put the best LLM (1) below the second (2) "
             f"in plain trec_eval, so cv reports their raw-label nDCG beside these; --gains chooses others")
    judgements = read_qrels(job.qrels)
    llms = sorted(set(judgements.table["docno"].to_pylist()))
    found, evidence = None, None
    try:
        if job.discovery:  # its substantive answers go to a file beside the output, moved in when done
            Path(job.output).parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=Path(job.output).parent, prefix=".evidence.",
                                             suffix=".jsonl", delete=False) as out:
                evidence = out.name
                found = read_discovery(job.discovery, llms, job.metadata, out)
        return _write(job, read_topics(job.queries, "tsv"), judgements, (MLLM_GAINS, MLLM_GAINS_SOURCE),
                      [job.queries, job.qrels, *job.discovery, *job.metadata], discovery=found,
                      response_metadata=bool(job.metadata), evidence=evidence)
    finally:
        if evidence:
            Path(evidence).unlink(missing_ok=True)


def prepare_items(job: ItemsPrepareJob) -> Path:
    """Any topics and qrels, with the items' texts (a corpus, responses, a run's candidates)."""
    from ..formats import read_qrels, read_topics

    sources = [job.topics, job.qrels, job.corpus, job.responses, job.scores, job.run, job.categories]
    return _write(job, read_topics(job.topics), read_qrels(job.qrels), None, [p for p in sources if p],
                  corpus=job.corpus, responses=job.responses, scores=job.scores, candidates=job.run, depth=job.depth)


def _write(job, topics, qrels, default_gains: tuple | None, sources: list, **inputs) -> Path:
    """``default_gains``: (the map, where it comes from) when --gains is not given."""
    from ..datasets import prepare_items
    from ..evaluation import parse_gains

    given = (dict(parse_gains(job.gains)), f"--gains {job.gains}") if job.gains else None
    gains, source = given or default_gains or (None, None)
    return prepare_items(topics, qrels, job.output, gains, job.folds, job.seed, job.encoder, sources,
                         with_layer_states=job.layer_states, categories=job.categories, device=job.device,
                         gains_source=source, **inputs)
