"""Command-line interface: thin typer commands, one module each, imported only when its command
runs (``app.COMMANDS``). A plain small ``eval`` is answered before typer loads (``quick``)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .quick import quick_eval

    argv = list(sys.argv[1:] if argv is None else argv)
    code = quick_eval(argv)
    if code is not None:
        return code
    from .app import main as run

    return run(argv)
