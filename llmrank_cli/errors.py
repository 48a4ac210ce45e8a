"""Errors that the CLI turns into one-line messages and exit codes.

Exit codes are part of the CLI contract (see README): 0 success, 1 failure
reported by a check (e.g. ``validate`` found problems), 2 bad input or usage.
"""
from __future__ import annotations

EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


class LlmrankError(Exception):
    """An expected failure: printed as one line, no traceback unless --debug."""

    exit_code = EXIT_BAD_INPUT


class InputError(LlmrankError):
    """Bad content in an input file, reported as ``FILE:LINE: problem``."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}")


class ServiceError(LlmrankError):
    """A service the job depends on (an LLM server) failed mid-job: unlike bad input, the work
    finished so far stays on disk for ``--resume``."""


class MissingExtra(LlmrankError):
    """An optional dependency is not installed; the message says how to get it."""

    def __init__(self, what: str, package: str, extra: str | None = None):
        hint = f"pip install 'llmrank[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{what} needs the package '{package}', which is not installed: {hint}")


class Note(UserWarning):
    """A remark for the user from library code (e.g. a setting clamped to the data): raised with
    ``warnings.warn(text, Note)``, the CLI prints it as a note (silenced by --quiet)."""
