"""``llmrank eval``: trec_eval-compatible scoring of one or more runs."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import options
from .app import app

_MEASURE_HELP = ("Measure in ir_measures syntax (nDCG@10, AP(rel=2), RR(rel=2)@10) or trec_eval's (ndcg_cut.10, map, "
                 "P.5,10, iprec_at_recall..10,.20, ndcg.1=1.0,2=0.7, all_trec, official). Repeatable. Default: "
                 "trec_eval's (official) with --format trec, else nDCG@10 AP RR P@10 R@100 R@1000.")


@app.command("eval")
def eval_command(
    qrels: str = typer.Argument(..., help="TREC qrels (path, .gz, or - for stdin)."),
    runs: List[str] = typer.Argument(..., help="One or more runs (TREC 6-column or MS MARCO 3-column)."),
    measure: Optional[List[str]] = typer.Option(None, "-m", "--measure", help=_MEASURE_HELP),
    rel_level: int = typer.Option(1, "-l", "--rel-level", help="Minimum label counted relevant (trec_eval -l)."),
    complete: bool = typer.Option(False, "-c", "--complete",
                                  help="Average over all qrels queries; missing ones score 0 (trec_eval -c)."),
    max_docs: Optional[int] = typer.Option(None, "-M", "--max-docs", min=1,
                                           help="Use only the top N documents of each query (trec_eval -M)."),
    gains: Optional[str] = typer.Option(None, "--gains", help="Gain map for every nDCG, e.g. 0=0,1=1.0,2=0.7."),
    trec_eval: str = typer.Option("10.0", "--trec-eval", help="Whose numbers: 10.0 (NIST's current release), 9.0.8 "
                                  "(pytrec_eval's, ir_measures', PyTerrier's) or 10.0-rc2 (pyserini's build)."),
    per_query: bool = typer.Option(False, "-q", "--per-query", help="Also print per-query values."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, trec, tsv, csv, json or latex."),
    baseline: Optional[str] = typer.Option(None, "--baseline", "-b", help="Run to test the others against."),
    test: str = typer.Option("t", "--test", help="Paired test: t, wilcoxon or permutation."),
    correction: str = typer.Option("holm", "--correction", help="none, bonferroni or holm."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level for the † marker."),
    permutations: int = typer.Option(10000, "--permutations", help="Resamples for the permutation test."),
    seed: int = typer.Option(0, "--seed", help="Seed for the permutation test."),
    by: Optional[str] = typer.Option(None, "--by", help="qid<TAB>category file: every measure per category too "
                                     "(paired tests per category, corrected over categories and runs)."),
    run_format: str = options.RUN_FORMAT,
    output: str = options.OUTPUT,
    quiet: bool = options.QUIET,
) -> None:
    """Score runs against qrels with exactly trec_eval's numbers (10.0, 9.0.8 or pyserini's 10.0-rc2)."""
    from types import SimpleNamespace

    from ..pipelines.runs import evaluate_report

    evaluate_report(SimpleNamespace(qrels=qrels, runs=runs, measure=measure, rel_level=rel_level, complete=complete,
                                    max_docs=max_docs, gains=gains, trec_eval=trec_eval, per_query=per_query, fmt=fmt,
                                    baseline=baseline,
                                    test=test, correction=correction, alpha=alpha, permutations=permutations,
                                    seed=seed, by=by, run_format=run_format, output=output))
