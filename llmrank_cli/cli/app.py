"""The typer app, its global options, and ``main(argv) -> int``.

Exit codes: 0 success; 1 a check found problems; 2 bad input or usage.
Errors print one line on stderr; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import os
import sys

import typer

from .. import __version__

app = typer.Typer(
    name="llmrank",
    help="TREC-style ranking experiments: prepare, train, rank, rerank, eval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    quiet = False
    debug = False


state = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmrank {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars or notes on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.quiet, state.debug = quiet, debug


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


def main(argv: list[str] | None = None) -> int:
    from ..errors import EXIT_BAD_INPUT, LlmrankError

    argv = list(sys.argv[1:] if argv is None else argv)
    state.debug = "--debug" in argv
    _show_notes()
    try:
        result = app(args=argv, prog_name="llmrank", standalone_mode=False)
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
        from ..kit.lm_workers import close_all

        close_all()
