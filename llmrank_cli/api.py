"""The Python API: what ``eval``, ``fuse`` and ``validate`` do, as functions for notebooks and
scripts (``import llmrank``). The commands call these same functions.

Runs and qrels are taken in the forms the field passes around: a path (``.gz``, ``-``), llmrank's
``Run``/``Qrels``, ``{qid: {docno: score}}`` dicts (pytrec_eval, ir_measures, ranx's
``to_dict()``), ranx ``Run``/``Qrels`` objects, and DataFrames with ir_measures' columns
(``query_id, doc_id, score|relevance``), ranx's (``q_id, doc_id, score``) or PyTerrier's
(``qid, docno, score|label``). Results come back as pandas DataFrames (pandas imported here, on
demand).
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

from .errors import LlmrankError
from .formats import Qrels, Run, read_qrels, read_run

_QID = ("query_id", "q_id", "qid")
_DOCNO = ("doc_id", "docno", "docid")
_SCORE = ("score",)
_LABEL = ("relevance", "label", "rel", "score")


def as_run(run: Any, name: str | None = None, fmt: str = "auto") -> Run:
    """A run from any of the accepted forms (module docstring); ``fmt`` of a file: auto, trec or
    msmarco."""
    if isinstance(run, Run):
        return run
    if isinstance(run, (str, os.PathLike)):
        out = read_run(run, fmt)
        out.name = name or (str(run) if str(run) != "-" else "<stdin>")
        return out
    qid, docno, score = _columns(run, _SCORE, "run")
    return Run.from_columns(qid, docno, score, name=name or "<run>")


def as_qrels(qrels: Any) -> Qrels:
    """Qrels from any of the accepted forms; labels must be integers."""
    if isinstance(qrels, Qrels):
        return qrels
    if isinstance(qrels, (str, os.PathLike)):
        return read_qrels(qrels)
    qid, docno, rel = _columns(qrels, _LABEL, "qrels")
    if any(float(x) != int(x) for x in rel):
        raise LlmrankError("qrels labels must be integers")
    return Qrels.from_columns(qid, docno, [int(x) for x in rel])


def _columns(data: Any, value_names: tuple[str, ...], what: str) -> tuple[list, list, list]:
    """(qids, docnos, values) of a nested dict, a ranx object or a DataFrame."""
    if hasattr(data, "to_dict") and not hasattr(data, "columns"):  # ranx Run / Qrels
        data = data.to_dict()
    if isinstance(data, Mapping):
        rows = [(str(q), str(d), v) for q, docs in data.items() for d, v in docs.items()]
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    if hasattr(data, "columns"):
        def pick(names):
            found = next((c for c in names if c in data.columns), None)
            if found is None:
                raise LlmrankError(f"a {what} DataFrame needs one of the columns {', '.join(names)}; "
                                   f"it has {', '.join(map(str, data.columns))}")
            return data[found]
        return (pick(_QID).astype(str).tolist(), pick(_DOCNO).astype(str).tolist(),
                pick(value_names).tolist())
    raise LlmrankError(f"cannot read a {what} from {type(data).__name__}: give a path, a {{qid: {{docno: value}}}} "
                       f"dict, a DataFrame or a ranx object")


def _named_runs(runs: Any, fmt: str = "auto") -> list[Run]:
    """One run, a list of runs or {name: run}."""
    if isinstance(runs, Mapping) and not _is_run_dict(runs):
        return [as_run(run, str(name), fmt) for name, run in runs.items()]
    if isinstance(runs, (list, tuple)):
        return [as_run(run, fmt=fmt) for run in runs]
    return [as_run(runs, fmt=fmt)]


def _is_run_dict(data: Mapping) -> bool:
    """{qid: {docno: score}} (one run), not {name: run}."""
    return all(isinstance(docs, Mapping) and not any(isinstance(v, Mapping) for v in docs.values())
               for docs in data.values())


def evaluations(qrels: Any, runs: Any, measures: Iterable[str] | None = None, *, rel_level: int = 1,
                complete: bool = False, max_docs: int | None = None, gains: str | None = None,
                run_format: str = "auto", trec_eval: str | None = None) -> list:
    """One :class:`~llmrank_cli.evaluation.Evaluation` per run, the qrels read once and each run
    read as it is evaluated: the numbers of trec_eval version ``trec_eval`` ("9.0.8", "10.0" (the
    default) or "10.0-rc2", pyserini's build); ``rel_level``, ``complete``, ``max_docs`` are its
    ``-l``, ``-c``, ``-M``; ``gains`` a label->gain map such as ``"0=0,1=1.0,2=0.7"`` for every nDCG."""
    from .evaluation import evaluate as evaluate_run, parse_gains, parse_measures
    from .evaluation.versions import version

    trec_eval = version(trec_eval).name
    parsed = parse_measures(list(measures) if measures is not None else None, trec_eval)
    gain_map = parse_gains(gains) if gains else None
    judged = as_qrels(qrels)
    flags = (parsed, rel_level, complete, max_docs, gain_map, trec_eval)
    if isinstance(runs, (list, tuple)):  # files read one at a time: a long list never sits in memory
        return [evaluate_run(judged, as_run(run, fmt=run_format), *flags) for run in runs]
    return [evaluate_run(judged, run, *flags) for run in _named_runs(runs, run_format)]


def evaluate(qrels: Any, runs: Any, measures: Iterable[str] | None = None, *, per_query: bool = False,
             rel_level: int = 1, complete: bool = False, max_docs: int | None = None,
             gains: str | None = None, trec_eval: str | None = None):
    """A DataFrame with one row per run and query (``query_id`` "all" for the aggregate, the only
    row per run unless ``per_query``) and one column per measure. ``measures`` in ir_measures'
    syntax (``nDCG@10``, ``AP(rel=2)``) or trec_eval's (``ndcg_cut.10``, ``map``, ``P.5,10``);
    ``trec_eval`` the version whose numbers to give (:func:`evaluations`)."""
    import pandas as pd

    rows = []
    for ev in evaluations(qrels, runs, measures, rel_level=rel_level, complete=complete, max_docs=max_docs,
                          gains=gains, trec_eval=trec_eval):
        labels = [m.label for m in ev.measures]
        if per_query:
            rows += [{"run": ev.run_name, "query_id": q, **{label: _cell(ev, i, qi) for i, label in enumerate(labels)}}
                     for qi, q in enumerate(ev.qids)]
        total = ev.aggregate().tolist()
        rows.append({"run": ev.run_name, "query_id": "all",
                     **{label: _cell(ev, i, 0) if m.kind == "runid" else total[i]
                        for i, (label, m) in enumerate(zip(labels, ev.measures))}})
    return pd.DataFrame(rows)


def _cell(ev, measure: int, query: int):
    label = ev.measures[measure].label
    return ev.texts[label][query] if label in ev.texts else float(ev.values[measure, query])


def compare(qrels: Any, runs: Any, baseline: Any, measures: Iterable[str] | None = None, *, test: str = "t",
            correction: str = "holm", alpha: float = 0.05, permutations: int = 10000, seed: int = 0, **flags):
    """Paired tests of each run against ``baseline`` (a run in any accepted form, or the name of
    one of ``runs`` given as a dict), per measure, corrected across the runs: a DataFrame of
    run, measure, delta, p_value, wins, ties, losses, significant. ``flags`` as :func:`evaluate`'s."""
    import pandas as pd

    from .evaluation import compare_to_baseline

    given = _named_runs(runs)
    base = next((r for r in given if isinstance(baseline, str) and r.name == baseline), None)
    others = [r for r in given if r is not base]
    evals = evaluations(qrels, [base or as_run(baseline, "baseline"), *others], measures, **flags)
    return pd.DataFrame([{"run": c.run_name, **{k: v for k, v in vars(c).items() if k != "run_name"}}
                         for c in compare_to_baseline(evals, 0, test, correction, alpha, permutations, seed)])


def fuse(runs: Any, method: str = "rrf", *, rrf_k: int = 60, norm: str = "minmax", depth: int | None = None,
         k: int | None = None, tag: str = "fused") -> Run:
    """One run from several: reciprocal rank fusion, CombSUM or CombMNZ (``norm`` per query:
    none, minmax or zscore), over each run's top ``depth``, keeping the top ``k``."""
    from .retrieval.fusion import METHODS, NORMS, fuse as fuse_runs

    if method not in METHODS or norm not in NORMS:
        raise LlmrankError(f"method must be one of {', '.join(METHODS)} and norm one of {', '.join(NORMS)}")
    given = _named_runs(runs)
    if len(given) < 2:
        raise LlmrankError("fuse needs at least two runs")
    fused = fuse_runs(given, method, rrf_k, norm, depth, tag)
    return fused.truncated(k) if k else fused


def validate(run: Any, qrels: Any = None, topics: Any = None, pool: Any = None, tags: list | None = None) -> list:
    """Findings (severity, where, problem) of one run: duplicate docnos, non-finite scores,
    rank/score disagreement, ties at cutoffs, coverage of ``qrels``/``topics`` (a path or a list
    of :class:`~llmrank_cli.formats.Topic`); with ``pool`` (LLM ids, a file of them or a data
    directory), what TREC Million LLMs refuses: an LLM missing, twice or unknown, ranks not 1..N
    by score, more than one of ``tags`` (the file's run tags), queries that are not topics."""
    from .evaluation.submission import read_pool, validate_pool
    from .evaluation.validation import validate_run
    from .formats import read_topics

    if isinstance(run, (str, os.PathLike)):
        run = read_run(run, check=False)
    judged = as_qrels(qrels) if qrels is not None else None
    if judged is not None:
        judged.check_unique()
    topic_list = read_topics(topics) if isinstance(topics, (str, os.PathLike)) else topics
    run = as_run(run)
    if pool is None:
        return validate_run(run, judged, topic_list)
    llms = read_pool(pool) if isinstance(pool, (str, os.PathLike)) else list(pool)
    return validate_run(run, judged) + validate_pool(run, llms, topic_list, tags)  # topics: errors here
