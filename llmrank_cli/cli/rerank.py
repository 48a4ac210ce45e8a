"""``llmrank rerank``: rescore a run's top-k with any passage ranker (``pipelines/passages.py``).

``--kind`` takes any registered passage ranker; each ranker's own scoring flags (e.g. the
bi-encoder's ``--similarity``) are generated from its settings and refused for other kinds."""
from __future__ import annotations

from .. import rankers
from . import flags
from .app import app, note, state


def _kinds_help() -> str:
    return ", ".join(f"{n} ({', '.join(rankers.aliases_of(n))})" if rankers.aliases_of(n) else n
                     for n in rankers.names(candidates="passages"))


def _scoring_parameters() -> list:
    """Every passage ranker's scoring flags; a flag several kinds have (``--window``: icr's and
    listwise's) is one option whose help gives each kind's meaning and default (each kind's
    settings check its own range)."""
    params = {}
    for name in rankers.names(candidates="passages"):
        for p in flags.parameters(rankers.get(name).Settings, rankers.preset(name), scoring_only=True, owner=name):
            if p.name in params and params[p.name].default.help.endswith(p.default.help.split(": ", 1)[1]):
                owners, text = params[p.name].default.help.split(": ", 1)  # the same flag: one help, both kinds
                params[p.name].default.help = f"{owners}, {name}: {text}"
            elif p.name in params:
                params[p.name].default.help += f"; {p.default.help}"
                if p.default.min is not None and params[p.name].default.min is not None:
                    params[p.name].default.min = min(params[p.name].default.min, p.default.min)
            else:
                p.default.rich_help_panel = "Flags of each --kind"  # a table of its own: the main one stays narrow
                params[p.name] = p
    return list(params.values())


def _own(job) -> set:
    return {f.name for f in flags.setting_fields(rankers.get(job.kind).Settings, scoring_only=True)}


def _no_foreign_flags(job, scoring: dict) -> None:
    """Every scoring flag given is one of --kind's own."""
    from ..errors import LlmrankError

    foreign = sorted(k for k, v in scoring.items() if v is not None and k not in _own(job))
    if foreign:
        raise LlmrankError(f"--{foreign[0].replace('_', '-')} is not an option of --kind {job.kind}")


def _rerank(job, scoring: dict) -> None:
    from ..pipelines import passages

    settings = flags.values(rankers.get(job.kind).Settings, {k: scoring[k] for k in _own(job)})
    stats, ranker = passages.rerank(job, settings, state.quiet)
    if not stats.main:
        return
    rate = stats.pairs / stats.seconds if stats.seconds > 0 else 0.0
    note(f"reranked {stats.pairs} pairs of {stats.queries} queries in {stats.seconds:.1f}s ({rate:.1f} pairs/s)"
         + (f", {stats.skipped_queries} queries already done" if stats.skipped_queries else "")
         + f"; {ranker.report(stats)}")


def _command():
    from ..jobs.scoring import RerankJob

    command = flags.job_command(RerankJob, _scoring_parameters(), _rerank,
                                "Rescore the top-k of a run with a passage ranker and write a TREC run.",
                                check_extra=_no_foreign_flags)
    kind = command.__signature__.parameters["kind"].default
    kind.help = f"The ranker: {_kinds_help()}. (default: cross)"
    return command


app.command("rerank")(_command())
