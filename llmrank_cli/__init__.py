"""llmrank: a command-line toolkit for TREC-style ranking experiments."""

__version__ = "0.1.0"
