"""``llmrank eval --format trec -m MEASURE QRELS RUN...`` on small files, answered before typer,
numpy or Arrow load: in a shell loop that call then costs a few times trec_eval's, not forty.

Only a plain call takes this road: the flags below (the same names as ``eval``'s own, a test
holds them so), trec_eval measure names the plain engine computes, and files the plain readers
take. Anything else returns None and the full command runs, which also reports every error.
"""
from __future__ import annotations

import sys

_VALUED = {"-m": "measure", "--measure": "measure", "-l": "rel_level", "--rel-level": "rel_level",
           "-M": "max_docs", "--max-docs": "max_docs", "-f": "format", "--format": "format",
           "-o": "output", "--output": "output"}
_SWITCHES = {"-q": "per_query", "--per-query": "per_query", "-c": "complete", "--complete": "complete",
             "--quiet": "quiet"}


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
    if not got or got.get("format") != "trec" or not got["measure"] or len(got["paths"]) < 2:
        return None
    try:
        rel_level, max_docs = int(got.get("rel_level", 1)), int(got.get("max_docs", sys.maxsize))
    except ValueError:
        return None
    import gc

    from ..evaluation.measures import split_measures
    from ..evaluation.trec_names import is_trec_name

    if max_docs < 1 or not all(is_trec_name(p) for text in got["measure"] for p in split_measures(text)):
        return None
    collecting = gc.isenabled()
    gc.disable()  # a short call on bounded input: the collector would only walk the rows again
    try:
        evals = _evaluations(got, rel_level, max_docs)
    finally:
        if collecting:
            gc.enable()
    return None if evals is None else _write(evals, got.get("output", "-"), got.get("per_query", False))


def _evaluations(got: dict, rel_level: int, max_docs: int) -> list | None:
    """Each run's plain evaluation, or None where the full command must answer."""
    from ..errors import LlmrankError
    from ..evaluation import plain
    from ..evaluation.measures import parse_measures
    from ..formats import plain as files

    try:
        measures = parse_measures(got["measure"])
        if not plain.computes(measures) or not files.fits(got["paths"]):
            return None
        qrels = files.read_qrels(got["paths"][0])
        evals = [plain.evaluate(qrels, files.read_run(path), path, measures, rel_level,
                                got.get("complete", False), max_docs) for path in got["paths"][1:]]
    except (LlmrankError, files.NotPlain):
        return None
    return evals if all(ev.qids for ev in evals) else None  # no shared query: the full command notes it


def _write(evals: list, output: str, per_query: bool) -> int | None:
    """0 once written; None where the output cannot be written (nothing was: the full command
    then says why)."""
    from ..evaluation.printed import write_trec

    if output == "-":
        try:
            write_trec(evals, sys.stdout, per_query)
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        return 0
    from ..errors import LlmrankError
    from ..formats.io import atomic_output

    try:
        with atomic_output(output) as out:
            write_trec(evals, out, per_query)
    except LlmrankError:
        return None
    return 0
