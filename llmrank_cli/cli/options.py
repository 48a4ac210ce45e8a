"""Options of the commands not generated from a job (convert, fuse, merge, validate, sample,
prepare corpus|topics|qrels|index), taken from the glossary (``settings.GLOSSARY``) where the
flag is one of its terms, so every command spells and means them alike; and the flags' old
spellings."""
import typer

from ..settings import GLOSSARY

# Old spellings: they keep working for now, with a one-line note (cli/app.py rewrites them).
RENAMED = {"--candidates": "--run", "--base": "--encoder"}
RENAMED_IN = {"prepare": {"--format": "--input-format"}, "convert": {"--to": "--format", "--from": "--input-format", "--depth": "--k"},
              "rerank": {"--heads": "--router"},
              "train routehead": {"--heads": "--data", "--eval-heads": "--eval-data"}}


def term(name: str, *names: str, **option):
    """A typer option for the glossary's term ``name`` (spelled ``names``, default --name; a
    ``default`` and ``help`` given where the glossary leaves them to the command)."""
    entry = GLOSSARY[name]
    option = {"default": entry.default, "help": entry.meaning, **option}
    return typer.Option(option.pop("default"), *(names or ("--" + name.replace("_", "-"),)), **option)


def _quiet(value: bool) -> bool:
    """`llmrank CMD --quiet` acts as `llmrank --quiet CMD`."""
    if value:
        from .app import state
        state.quiet = True
    return value


TOPICS_FORMAT, TOPICS_FIELD, RUN_FORMAT = term("topics_format"), term("topics_field"), term("run_format")
QUIET = term("quiet", callback=_quiet)
OUTPUT = typer.Option("-", "-o", "--output", help="Output file, written atomically; - for stdout.")
