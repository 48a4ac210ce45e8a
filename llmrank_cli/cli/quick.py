"""``llmrank eval`` of small files, answered before typer, numpy or Arrow load: in a shell loop
``eval --format trec -m ndcg_cut.10`` then costs a few times trec_eval's call, not forty.

Only a plain call takes this road: the flags below (the same names as ``eval``'s own, a test
holds them so), measures the plain engine computes (trec_eval's common ones; ir_measures' P, R,
AP, RR, nDCG, Rprec, Success and Num* with labels as gains), any format but json (which prints
the full command's settings), and files the plain readers take. Anything else returns None and
the full command runs, which also reports every error.
"""
from __future__ import annotations

import sys

FORMATS = ("trec", "table", "tsv", "csv", "latex")
_VALUED = {"-m": "measure", "--measure": "measure", "-l": "rel_level", "--rel-level": "rel_level",
           "-M": "max_docs", "--max-docs": "max_docs", "-f": "format", "--format": "format",
           "-o": "output", "--output": "output", "--trec-eval": "trec_eval"}
_SWITCHES = {"-q": "per_query", "--per-query": "per_query", "-c": "complete", "--complete": "complete",
             "--quiet": "quiet"}  # a quick call prints no notes to silence


def _parsed(argv: list[str]) -> dict | None:
    """eval's settings from ``argv`` (after ``eval``), or None for anything but a plain call."""
    got: dict = {"measure": [], "paths": []}
    words = iter(argv)
    for word in words:
        flag, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if flag in _VALUED:
            value = value if eq else next(words, None)
            if value is None:
                return None
            if flag in ("-m", "--measure"):
                got["measure"].append(value)
            else:
                got[_VALUED[flag]] = value
        elif flag in _SWITCHES and not eq:
            got[_SWITCHES[flag]] = True
        elif word.startswith("-"):  # another flag, or - (stdin)
            return None
        else:
            got["paths"].append(word)
    return got


def quick_eval(argv: list[str]) -> int | None:
    """Run ``llmrank ARGV`` here and return its exit code when it is a plain small ``eval``."""
    while argv[:1] == ["--quiet"]:
        argv = argv[1:]
    got = _parsed(argv[1:]) if argv[:1] == ["eval"] else None
    if not got or got.setdefault("format", "table") not in FORMATS or len(got["paths"]) < 2:
        return None
    try:
        rel_level, max_docs = int(got.get("rel_level", 1)), int(got.get("max_docs", sys.maxsize))
    except ValueError:
        return None
    if max_docs < 1:
        return None
    import gc

    collecting = gc.isenabled()
    gc.disable()  # a short call on bounded input: the collector would only walk the rows again
    try:
        evals = _evaluations(got, rel_level, max_docs)
    finally:
        if collecting:
            gc.enable()
    return None if evals is None else _write(evals, got["format"], got.get("output", "-"), got.get("per_query", False))


def _evaluations(got: dict, rel_level: int, max_docs: int) -> list | None:
    """Each run's plain evaluation, or None where the full command must answer."""
    from ..errors import LlmrankError
    from ..evaluation import plain
    from ..evaluation.measures import parse_measures
    from ..evaluation.versions import version
    from ..formats import plain as files

    try:
        v = version(got.get("trec_eval"))
        measures = parse_measures(got["measure"] or (["official"] if got["format"] == "trec" else None), v.name)
        if not plain.computes(measures) or not files.fits(got["paths"]):
            return None
        qrels = files.read_qrels(got["paths"][0])
        evals = [plain.evaluate(qrels, files.read_run(path), path, measures, rel_level,
                                got.get("complete", False), max_docs, v.stand_in) for path in got["paths"][1:]]
    except (LlmrankError, files.NotPlain):
        return None
    # no shared query (refused), or 10.0 without -c on a run lacking qrels queries (noted): the full command
    noted = v.stand_in and not got.get("complete")
    return evals if all(ev.unranked < len(qrels) and not (ev.unranked and noted) for ev in evals) else None


def _write(evals: list, fmt: str, output: str, per_query: bool) -> int | None:
    """0 once written; None where the output cannot be written (nothing was: the full command
    then says why)."""
    if output == "-":
        try:
            _render(fmt, evals, sys.stdout, per_query)
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        return 0
    from ..errors import LlmrankError
    from ..formats.io import atomic_output

    try:
        with atomic_output(output) as out:
            _render(fmt, evals, out, per_query)
    except LlmrankError:
        return None
    return 0


def _render(fmt: str, evals: list, out, per_query: bool) -> None:
    if fmt == "trec":  # the shell loop's call: no csv, json or rich to load
        from ..evaluation.printed import write_trec

        write_trec(evals, out, per_query)
    else:
        from ..evaluation.report import render

        render(fmt, evals, out, per_query, [], {})
