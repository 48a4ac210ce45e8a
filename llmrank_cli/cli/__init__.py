"""Command-line interface: thin typer commands, one module each, imported only when its command
runs (``app.COMMANDS``)."""
from .app import COMMANDS, app, main

__all__ = ["COMMANDS", "app", "main"]
