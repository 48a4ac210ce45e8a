"""``llmrank sample``: copy the embedded sample data out, to try every command on."""
from __future__ import annotations

import typer

from . import options
from .app import app, note


@app.command("sample")
def sample_command(
    path: str = typer.Argument(..., help="Directory to create (must not exist or be empty)."),
    quiet: bool = options.QUIET,
) -> None:
    """Write the embedded samples: passages/ (topics, corpus, qrels, first-stage runs) and
    llm/ (queries × LLM ids with graded qrels)."""
    import shutil
    from importlib import resources
    from pathlib import Path

    from ..errors import LlmrankError

    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise LlmrankError(f"{target}: exists and is not empty")
    root = resources.files("llmrank_cli") / "sample"
    with resources.as_file(root) as src:
        shutil.copytree(src, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    note(f"sample written to {target}/: " + ", ".join(sorted(p.name for p in target.iterdir())))
