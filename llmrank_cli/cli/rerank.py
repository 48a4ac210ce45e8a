"""``llmrank rerank``: rescore a run's top-k with any passage ranker (``pipelines/passages.py``).

``--kind`` takes any registered passage ranker; each ranker's own scoring flags (e.g. the
bi-encoder's ``--similarity``) are generated from its settings and refused for other kinds."""
from __future__ import annotations

from typing import Optional

import typer

from .. import rankers
from . import flags, options
from .app import app, note, state


def _kinds_help() -> str:
    return ", ".join(f"{n} ({', '.join(rankers.aliases_of(n))})" if rankers.aliases_of(n) else n
                     for n in rankers.names(candidates="passages"))


def _rerank_flags(
    run: str = typer.Option(..., "--run", help="Input run (TREC or MS MARCO); - for stdin."),
    topics: str = typer.Option(..., "--topics", help="Topics (TSV, SGML, XML, JSONL, CSV)."),
    corpus: str = typer.Option(..., "--corpus", help="Passages: JSONL/TSV/TREC/SMART file (.gz ok) or a Lucene "
                                                    "index built with --store-raw."),
    model: str = typer.Option(..., "--model", help="Model directory, hub id, or an installed offline model name."),
    kind: str = typer.Option("cross", "--kind", help=f"The ranker: {_kinds_help()}."),
    depth: int = typer.Option(100, "--depth", min=1, help="Rescore the top N; the rest keep their order below."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Most pairs in one forward pass."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=8, help="Token limit (default: the model's)."),
    backend: str = options.BACKEND,
    quantize: str = options.QUANTIZE,
    shard: Optional[str] = typer.Option(None, "--shard", help="i/N: rerank every N-th chunk of queries only "
                                                              "(join with `merge`)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Run tag (default: the input's)."),
) -> None:
    """Flags of `rerank` of its own (the scoring-job flags and the rankers' scoring flags follow)."""


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


def _rerank(a: dict, scoring: dict) -> None:
    from types import SimpleNamespace

    from ..errors import LlmrankError
    from ..pipelines import passages

    cls = rankers.get(rankers.canonical(a["kind"]))
    own = {f.name for f in flags.setting_fields(cls.Settings, scoring_only=True)}
    foreign = sorted(k for k, v in scoring.items() if v is not None and k not in own)
    if foreign:
        raise LlmrankError(f"--{foreign[0].replace('_', '-')} is not an option of --kind {a['kind']}")
    stats, ranker = passages.rerank(SimpleNamespace(**a), flags.values(cls.Settings, {k: scoring[k] for k in own}),
                                    state.quiet)
    if not stats.main:
        return
    rate = stats.pairs / stats.seconds if stats.seconds > 0 else 0.0
    note(f"reranked {stats.pairs} pairs of {stats.queries} queries in {stats.seconds:.1f}s ({rate:.1f} pairs/s)"
         + (f", {stats.skipped_queries} queries already done" if stats.skipped_queries else "")
         + f"; {ranker.report(stats)}")


app.command("rerank")(flags.command((_rerank_flags, options.scoring_job), _scoring_parameters(), _rerank,
                                    "Rescore the top-k of a run with a passage ranker and write a TREC run."))
