"""llmrank as a library: read and write runs, qrels and topics; evaluate with trec_eval's numbers,
compare runs with paired tests, fuse and validate them. Names are imported on first use, so
``import llmrank`` costs nothing until they are.

>>> import llmrank
>>> llmrank.evaluate("qrels.txt", {"bm25": "bm25.run", "tasb": "tasb.run"}, ["nDCG@10", "AP(rel=2)"])
"""
from importlib import import_module


from llmrank_cli import __version__

_EXPORTS = {
    "evaluate": "api", "evaluations": "api", "compare": "api", "fuse": "api", "validate": "api",
    "as_run": "api", "as_qrels": "api",
    "Run": "formats", "Qrels": "formats", "Topic": "formats", "read_run": "formats", "write_run": "formats",
    "read_qrels": "formats", "write_qrels": "formats", "read_topics": "formats", "write_topics": "formats",
    "LlmrankError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'llmrank' has no attribute {name!r}")
    value = getattr(import_module(f"llmrank_cli.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
