"""llmrank as a library: read and write runs, qrels and topics; evaluate with trec_eval's numbers,
compare runs with paired tests, fuse and validate them, show where they differ (``report``);
rank, rerank, train and cross-validate any model, with the jobs the commands build
(``RerankJob``, ``ItemTrainJob``, ...). Names are imported on first use, so ``import llmrank``
costs nothing until they are.

>>> import llmrank
>>> llmrank.evaluate("qrels.txt", {"bm25": "bm25.run", "tasb": "tasb.run"}, ["nDCG@10", "AP(rel=2)"])
"""
from llmrank_cli import __version__
from llmrank_cli.lazy import exports

_EXPORTS = {
    "evaluate": "api", "evaluations": "api", "compare": "api", "fuse": "api", "validate": "api",
    "as_run": "api", "as_qrels": "api", "rerank": "verbs", "rank": "verbs", "train": "verbs",
    "cross_validate": "verbs", "report": "verbs", "ReportJob": "jobs.evaluation", "RerankJob": "jobs.scoring",
    "RankJob": "jobs.scoring", "EvalJob": "jobs.evaluation",
    "ItemTrainJob": "jobs.training", "ItemCvJob": "jobs.training", "PassageTrainJob": "jobs.training",
    "PassageCvJob": "jobs.training", "HeadsTrainJob": "jobs.training",
    "Run": "formats", "Qrels": "formats", "Topic": "formats", "read_run": "formats", "write_run": "formats",
    "read_qrels": "formats", "write_qrels": "formats", "read_topics": "formats", "write_topics": "formats",
    "LlmrankError": "errors",
}
__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS, home="llmrank_cli")
