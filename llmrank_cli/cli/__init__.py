"""Command-line interface: thin typer commands over the library modules."""
from . import convert, eval, fuse, prepare, rank, rerank, sample, train, validate  # noqa: F401  (registers the commands)
from .app import app, main

__all__ = ["app", "main"]
