"""`eval`: runs scored against qrels with a chosen trec_eval's numbers, paired tests and
per-category breakdowns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import LlmrankError
from ..evaluation.report import FORMATS
from ..evaluation.significance import CORRECTIONS, TESTS
from ..evaluation.versions import DEFAULT, VERSIONS
from ..settings import setting, term
from . import Job, output

BY_HELP = ("qid<TAB>category file: every measure per category too (paired tests per category, corrected "
           "over categories and runs).")
MEASURE_HELP = ("Measure in ir_measures syntax (nDCG@10, AP(rel=2), RR(rel=2)@10) or trec_eval's (ndcg_cut.10, map, "
                "P.5,10, iprec_at_recall..10,.20, ndcg.1=1.0,2=0.7, all_trec, official). Repeatable. Default: "
                "trec_eval's (official) with --format trec, else nDCG@10 AP RR P@10 R@100 R@1000.")


@dataclass
class MeasuredJob(Job):
    """What `eval` and `report` share: the qrels, the runs, the measures and their rules, the
    paired tests."""

    qrels: str = setting(None, "TREC qrels (path, .gz, or - for stdin).", required=True, exists=True, argument=True)
    runs: list = setting([], "One or more runs (TREC 6-column or MS MARCO 3-column).", required=True, exists=True,
                         argument=True)
    measure: list = setting([], MEASURE_HELP, names=("-m", "--measure"), repeated=True)
    rel_level: int = term("rel_level", ".", names=("-l", "--rel-level"))
    complete: bool = setting(False, "Average over all qrels queries; missing ones score 0 (trec_eval -c).",
                             names=("-c", "--complete"))
    max_docs: Optional[int] = setting(None, "Use only the top N documents of each query (trec_eval -M).", min=1,
                                      names=("-M", "--max-docs"))
    gains: Optional[str] = setting(None, "Gain map for every nDCG, e.g. 0=0,1=1.0,2=0.7.")
    trec_eval: str = setting(DEFAULT, "Whose numbers: 10.0 (NIST's current release), 9.0.8 (pytrec_eval's, "
                                      "ir_measures', PyTerrier's) or 10.0-rc2 (pyserini's build).",
                             choices=tuple(VERSIONS))
    test: str = setting("t", "Paired test: t, wilcoxon or permutation.", choices=TESTS)
    correction: str = setting("holm", "none, bonferroni or holm.", choices=CORRECTIONS)
    alpha: float = setting(0.05, "Significance level for the † marker.", min=0.0)
    permutations: int = setting(10000, "Resamples for the permutation test.", min=1)
    seed: int = term("seed", " of the permutation test.")
    run_format: str = term("run_format", choices=("auto", "trec", "msmarco"))

    def check_more(self) -> None:
        if self.gains:
            from ..evaluation import parse_gains

            parse_gains(self.gains)


@dataclass
class EvalJob(MeasuredJob):
    """`eval`: every run against the qrels (the baseline first)."""

    per_query: bool = setting(False, "Also print per-query values.", names=("-q", "--per-query"))
    fmt: str = setting("table", "table, trec, tsv, csv, json or latex.", choices=FORMATS, names=("--format", "-f"))
    baseline: Optional[str] = setting(None, "Run to test the others against.", names=("--baseline", "-b"),
                                      exists=True)
    by: Optional[str] = setting(None, BY_HELP, exists=True)
    output: str = output("Output file, written atomically; - for stdout.", "-")

    def check_more(self) -> None:
        if self.by is not None and self.fmt in ("trec", "latex"):
            raise LlmrankError("--by prints table, csv, tsv or json")
        super().check_more()


@dataclass
class ReportJob(MeasuredJob):
    """`report`: one self-contained HTML page of where and why the runs differ."""

    baseline: list = setting([], "Run to compare the others with (repeatable; default: the first run). Tests are "
                                 "corrected over every run against every baseline.", names=("--baseline", "-b"),
                             repeated=True, exists=True)
    topics: Optional[str] = setting(None, "Topics, for each query's text (any format `prepare topics` reads).",
                                    exists=True)
    topics_field: str = term("topics_field")
    corpus: Optional[str] = setting(None, "Corpus (JSONL, TSV or TREC): the passages' text, read for the documents "
                                          "the page shows.", exists=True)
    data: Optional[str] = setting(None, "An LLM pool's data directory (`prepare mllm|items`): its topics, its "
                                        "categories and the LLMs' responses, items in place of passages.",
                                  exists=True)
    by: Optional[str] = setting(None, BY_HELP, exists=True)
    top: int = setting(10, "Documents of each run shown per query: its top k.", min=1, max=1000, names=("-k", "--top"))
    max_queries: int = setting(200, "Queries drawn one by one (those differing most from the baseline); the charts "
                                    "show every query up to 1000.", min=1)
    output: str = output("The HTML page, written atomically; - for stdout.")
