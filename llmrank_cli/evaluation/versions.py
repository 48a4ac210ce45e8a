"""The trec_eval versions llmrank reproduces, and what tells them apart.

Three builds are in use and give different numbers on the same files:
- ``9.0.8`` (NIST, 2020): what pytrec_eval, and so ir_measures and PyTerrier, compute. Its
  interpolated precision cuts at ``(long)(f * R + 0.9)`` relevant documents; it has no ``rbp``,
  ``rbp_resid`` or ``unj``.
- ``10.0`` (NIST, 2026-06-18, the default): cuts at ``lround(f * R)``; ``-c`` scores a query the
  run lacks on a one-document stand-in ranking and prints it with ``-q``; it stops (exit 4) when
  a qrels query has no results and ``-c`` is not given.
- ``10.0-rc2``: the build pyserini and Anserini bundle (as ``trec_eval.9.0.8.tar.gz``): 10.0's
  measures, 9.0.8's ``-c`` (missing queries count as zeros, never printed).

Each is checked line for line against its own binary (tests/test_eval_vs_trec_eval.py).
"""
from __future__ import annotations

from collections import namedtuple

from ..errors import LlmrankError


class Version(namedtuple("Version", "name round_cuts added stand_in")):
    """round_cuts: recall cutoffs by lround (else (long)(x + 0.9)); added: measures this version
    has that 9.0.8 lacks; stand_in: ``-c`` evaluates a missing query on trec_eval's one-document
    stand-in ranking (else it scores zeros)."""

    __slots__ = ()


NEW_IN_10 = ("rbp", "rbp_resid", "unj")  # measures 9.0.8 does not have
VERSIONS = {v.name: v for v in (Version("9.0.8", False, (), False),
                                Version("10.0", True, NEW_IN_10, True),
                                Version("10.0-rc2", True, NEW_IN_10, False))}
DEFAULT = "10.0"
STAND_IN_DOCNO = "ceci_nest_pas_un_docno"  # trec_eval 10.0's stand-in ranking for -c, one doc scored 1.0


def version(name: str | None) -> Version:
    """The named version (None: the default); an unknown name is one line listing the choices."""
    try:
        return VERSIONS[name or DEFAULT]
    except KeyError:
        raise LlmrankError(f"--trec-eval must be one of {', '.join(VERSIONS)}, not {name!r}") from None


def has_measure(v: Version, name: str) -> bool:
    return name not in NEW_IN_10 or name in v.added


def recall_cut(v: Version, x):
    """trec_eval's number of relevant documents at recall fraction ``x`` (x = f * R): 10.0's
    ``lround`` (halves away from zero), or 9.0.8's ``(long)(x + 0.9)``."""
    import numpy as np

    if v.round_cuts:
        return np.sign(x) * np.floor(np.abs(x) + 0.5)
    return np.trunc(x + 0.9)


def unranked_note(run_name: str, unranked: int, evaluated: int) -> str:
    """What trec_eval 10.0 does with a run lacking some qrels queries and no -c, which llmrank
    evaluates as the other versions do."""
    return (f"llmrank: note: {run_name} has no results for {unranked} qrels quer{'y' if unranked == 1 else 'ies'}: "
            f"trec_eval 10.0 stops on such files (exit 4); these are the numbers over the {evaluated} queries in "
            f"both, as 9.0.8 and 10.0-rc2 give them (-c scores the others)")
