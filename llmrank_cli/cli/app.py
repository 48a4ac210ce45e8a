"""The typer app, its global options, and ``main(argv) -> int``.

Exit codes: 0 success; 1 a check found problems; 2 bad input or usage.
Errors print one line on stderr; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import logging
import os
import sys
from importlib import import_module

import typer

from .. import __version__

# Every command: (its module, its help as ``llmrank --help`` lists it), in that listing's order. A
# command's module is imported only when that command runs, so ``eval`` pays for no registry,
# torch or pandas, and ``--help`` for none of the modules; a test keeps these texts equal to the
# modules' own.
COMMANDS = {
    "convert": ("convert", "Convert a run; output is in trec_eval order with ranks 1..n."),
    "eval": ("eval", "Score runs against qrels with exactly trec_eval's numbers (10.0, 9.0.8 or pyserini's 10.0-rc2)."),
    "fuse": ("fuse", "Fuse runs into one TREC run."),
    "rank": ("rank", "Rank with BM25 (optionally RM3) or a trained model: a TREC run or a Million LLMs "
                     "submission."),
    "rerank": ("rerank", "Rescore the top-k of a run with a passage ranker and write a TREC run."),
    "merge": ("merge", "Join shard runs; every query must come from exactly one shard."),
    "sample": ("sample", "Write the embedded samples: passages/ (topics, corpus, qrels, first-stage runs) and "
                         "llm/ (queries × LLM ids with graded qrels)."),
    "report": ("report", "One self-contained HTML page of where and why runs differ: the summary against each "
                         "baseline, per query, per category, distributions, and the runs' lists query by query."),
    "validate": ("validate", "Report duplicate docnos, non-finite scores, rank/score disagreement, ties at "
                             "cutoffs, missing queries and empty topics; with --pool, what TREC Million LLMs would "
                             "refuse. Exit 1 if any error was found (2: unreadable input)."),
    "prepare": ("prepare", "Normalise corpora, topics and qrels; build BM25 indexes."),
    "train": ("train", "Train a ranker: an item ranker (NAME --data DIR) or a passage reranker (cross-encoder "
                       "--encoder MODEL ...)."),
    "cv": ("train", "K-fold cross-validation by query of a trainable ranker: an out-of-fold run over all queries "
                    "(NAME.run), metrics per fold with mean, std and 95% CI (NAME.cv.json), and a table."),
}
GLOBAL_FLAGS = ("--quiet", "--debug", "--version", "-h", "--help")
LIGHT = ("convert", "eval", "fuse", "merge", "validate")  # run in shell loops: no pandas, registry or torch


def _typer(**settings) -> typer.Typer:
    return typer.Typer(name="llmrank", help="TREC-style ranking experiments: prepare, train, rank, rerank, eval.",
                       no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                       context_settings={"help_option_names": ["-h", "--help"]}, **settings)


app = _typer()


class State:
    quiet = False
    debug = False


state = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmrank {__version__}")
        raise typer.Exit()


def root(
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars or notes on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.quiet, state.debug = quiet, debug


app.callback()(root)


def _renamed(argv: list[str]) -> list[str]:
    """``argv`` with old flag spellings (``options.RENAMED``) replaced, each noted once."""
    from .options import RENAMED, RENAMED_IN

    words = [a for a in argv if a not in GLOBAL_FLAGS][:2]
    renames = {**RENAMED, **RENAMED_IN.get(words[0] if words else None, {}),
               **RENAMED_IN.get(" ".join(words), {})}  # a subcommand's own: "train routehead"
    out = []
    for arg in argv:
        flag, sep, value = arg.partition("=")
        if flag in renames:
            if "--quiet" not in argv:
                note(f"llmrank: note: {flag} is now {renames[flag]} (the old spelling still works, for now)")
            arg = renames[flag] + sep + value
        out.append(arg)
    return out


def _app_for(argv: list[str]) -> typer.Typer:
    """``app`` with the module of the command in ``argv`` imported; without a known command (help,
    ``--version``, a typo), an app that lists every command from ``COMMANDS`` and runs none."""
    name = next((a for a in argv if a not in GLOBAL_FLAGS), None)
    if name in LIGHT:
        from ..formats.table import arrow_without_pandas

        arrow_without_pandas()
    if name in COMMANDS:
        import_module(f"{__package__}.{COMMANDS[name][0]}")
        return app
    listing = _typer()
    listing.callback()(root)
    for command, (_, text) in COMMANDS.items():
        listing.command(command, help=text, add_help_option=False)(lambda: None)
    return listing


def note(message: str) -> None:
    """A human-facing remark on stderr, silenced by --quiet; under torchrun/accelerate only the
    process of rank 0 speaks."""
    if not state.quiet and os.environ.get("RANK", "0") == "0":
        typer.echo(message, err=True)


def _show_notes() -> None:
    """Library code's :class:`~llmrank_cli.errors.Note` warnings become notes."""
    import warnings

    from ..errors import Note

    shown = getattr(warnings.showwarning, "__wrapped__", warnings.showwarning)

    def show(message, category, *args, **kwargs):
        if issubclass(category, Note):
            note(str(message))
        else:
            shown(message, category, *args, **kwargs)

    show.__wrapped__ = shown
    warnings.showwarning = show
    # setting a filter renews warnings' registries: each call (in-process ones too) shows its notes
    warnings.filterwarnings("default", category=Note)


def main(argv: list[str] | None = None) -> int:
    from ..errors import EXIT_BAD_INPUT, LlmrankError

    argv = list(sys.argv[1:] if argv is None else argv)
    state.debug, state.quiet = "--debug" in argv, "--quiet" in argv  # nothing kept from an earlier call
    _show_notes()
    logging.getLogger("ir_datasets").setLevel(logging.WARNING if state.quiet else logging.NOTSET)  # its progress
    try:
        argv = _renamed(argv)
        result = _app_for(argv)(args=argv, prog_name="llmrank", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except LlmrankError as exc:
        if state.debug:
            raise
        typer.echo(f"llmrank: error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("llmrank: aborted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click/typer usage errors
            exc.show()
            return EXIT_BAD_INPUT
        raise
    finally:
        if "llmrank_cli.kit.lm_workers" in sys.modules:
            sys.modules["llmrank_cli.kit.lm_workers"].close_all()
