"""Render evaluations: a rich table, trec_eval's layout, TSV/CSV, JSON, LaTeX.

Data goes to the given stream (stdout by default); nothing here logs.
"""
from __future__ import annotations

import csv
import json
from typing import IO, TYPE_CHECKING

from .printed import cell, printed, write_trec

if TYPE_CHECKING:  # the plain engine's evaluations are rendered here too, without numpy
    from .engine import Evaluation
    from .significance import Comparison

FORMATS = ("table", "trec", "tsv", "csv", "json", "latex")


def _long_rows(evals: list[Evaluation], per_query: bool):
    for ev in evals:
        if per_query:
            for qi, qid in enumerate(ev.qids):
                for mi, m in enumerate(ev.measures):
                    if printed(ev, mi, qi):
                        yield ev.run_name, qid, m.label, cell(ev, mi, qi, ev.values[mi][qi])
        for mi, (m, v) in enumerate(zip(ev.measures, ev.aggregate())):
            if printed(ev, mi, None):
                yield ev.run_name, "all", m.label, cell(ev, mi, None, v)


def write_delimited(evals: list[Evaluation], out: IO[str], per_query: bool, delimiter: str,
                    comparisons: list[Comparison]) -> None:
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["run", "qid", "measure", "value"])
    writer.writerows(_long_rows(evals, per_query))
    if comparisons:
        writer.writerow([])
        writer.writerow(["run", "measure", "delta", "p_value", "wins", "ties", "losses", "significant"])
        for c in comparisons:
            writer.writerow([c.run_name, c.measure, f"{c.delta:.4f}", f"{c.p_value:.4g}", c.wins, c.ties,
                             c.losses, int(c.significant)])


def _json(ev: Evaluation, mi: int, qi: int | None, v: float):
    return cell(ev, mi, qi, v) if ev.measures[mi].text else float(v)


def write_json(evals: list[Evaluation], out: IO[str], per_query: bool, comparisons: list[Comparison],
               settings: dict) -> None:
    runs = []
    for ev in evals:
        entry = {"run": ev.run_name, "num_queries": len(ev.qids),
                 "aggregate": {m.label: _json(ev, mi, None, v) for mi, (m, v) in enumerate(zip(ev.measures, ev.aggregate()))
                               if printed(ev, mi, None)}}
        if per_query:
            entry["per_query"] = {qid: {m.label: _json(ev, mi, qi, ev.values[mi][qi]) for mi, m in enumerate(ev.measures)
                                        if printed(ev, mi, qi)}
                                  for qi, qid in enumerate(ev.qids)}
        entry["vs_baseline"] = {c.measure: {"delta": c.delta, "p_value": c.p_value, "wins": c.wins,
                                            "ties": c.ties, "losses": c.losses, "significant": c.significant}
                                for c in comparisons if c.run_name == ev.run_name}
        runs.append(entry)
    json.dump({"settings": settings, "runs": runs}, out, indent=2)
    out.write("\n")


def short_names(names: list[str]) -> dict[str, str]:
    """File names without directories when that is unambiguous, for tables."""
    base = [n.rsplit("/", 1)[-1] for n in names]
    return dict(zip(names, base)) if len(set(base)) == len(base) else {n: n for n in names}


def _columns(ev: Evaluation) -> list[int]:
    """The measures a one-line-per-run table shows: those with an 'all' value."""
    return [mi for mi in range(len(ev.measures)) if printed(ev, mi, None)]


def _marked(evals, comparisons, latex: bool):
    sig = {(c.run_name, c.measure) for c in comparisons if c.significant}
    mark = "\\textsuperscript{$\\dagger$}" if latex else "†"
    short = short_names([ev.run_name for ev in evals])
    for ev in evals:
        values = ev.aggregate()
        yield short[ev.run_name], [cell(ev, mi, None, values[mi]) + (mark if (ev.run_name, ev.measures[mi].label) in sig
                                                                     else "") for mi in _columns(ev)]


def write_latex(evals: list[Evaluation], out: IO[str], comparisons: list[Comparison]) -> None:
    measures = [evals[0].measures[mi].label for mi in _columns(evals[0])]
    esc = lambda s: s.replace("_", "\\_").replace("&", "\\&").replace("%", "\\%")  # noqa: E731
    out.write("\\begin{tabular}{l" + "r" * len(measures) + "}\n\\toprule\n")
    out.write("Run & " + " & ".join(esc(m) for m in measures) + " \\\\\n\\midrule\n")
    for name, cells in _marked(evals, comparisons, latex=True):
        out.write(esc(name) + " & " + " & ".join(cells) + " \\\\\n")
    out.write("\\bottomrule\n\\end{tabular}\n")


def write_table(evals: list[Evaluation], out: IO[str], comparisons: list[Comparison], test: str,
                correction: str, alpha: float, gains: str | None = None) -> None:
    """Runs x measures (a † where the baseline test is significant), then the tests; ``gains``
    names the label gains nDCG used when they are not the labels (trec_eval's)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out, highlight=False)
    table = Table(title=f"{len(evals[0].qids)} queries" if len(evals) == 1 else None,
                  caption=f"nDCG gains: {gains}" if gains else None)
    table.add_column("run")
    for mi in _columns(evals[0]):
        table.add_column(evals[0].measures[mi].label, justify="right")
    for name, cells in _marked(evals, comparisons, latex=False):
        table.add_row(escape(name), *cells)
    console.print(table)
    if comparisons:
        short = short_names([ev.run_name for ev in evals])
        detail = Table(title=f"vs baseline {short[evals[0].run_name]}: paired {test} test, {correction} "
                             f"correction, † p < {alpha}")
        for col in ("run", "measure", "delta", "p", "win/tie/loss"):
            detail.add_column(col, justify="left" if col in ("run", "measure") else "right")
        for c in comparisons:
            detail.add_row(escape(short[c.run_name]), c.measure, f"{c.delta:+.4f}", f"{c.p_value:.4g}" + (" †" if c.significant else ""),
                           f"{c.wins}/{c.ties}/{c.losses}")
        console.print(detail)


def render(fmt: str, evals: list[Evaluation], out: IO[str], per_query: bool,
           comparisons: list[Comparison], settings: dict) -> None:
    if fmt == "trec":
        write_trec(evals, out, per_query)
    elif fmt in ("tsv", "csv"):
        write_delimited(evals, out, per_query, "\t" if fmt == "tsv" else ",", comparisons)
    elif fmt == "json":
        write_json(evals, out, per_query, comparisons, settings)
    elif fmt == "latex":
        write_latex(evals, out, comparisons)
    else:
        write_table(evals, out, comparisons, settings.get("test", "t"), settings.get("correction", "holm"),
                    settings.get("alpha", 0.05), settings.get("gains") and f"{settings['gains']} (--gains)")


def write_cv(result: dict, evaluation: Evaluation, out: IO[str]) -> None:
    """A cross-validation: the out-of-fold run's means (the table `llmrank eval` prints for that
    run), then each measure's spread over the folds."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    gains = result.get("gains")
    identity = gains is None or all(float(k) == v for k, v in gains.items())
    write_table([evaluation], out, [], "t", "none", 0.05, None if identity else
                ",".join(f"{k}={v:g}" for k, v in gains.items()) + f" ({result.get('gains_source', 'not recorded')})")
    spread = Table(title=f"{result['ranker']}: {result['folds']}-fold CV, {result['queries']} queries, "
                         f"per-fold means")
    for col in ("measure", "mean", "std", "95% CI"):
        spread.add_column(col, justify="left" if col == "measure" else "right")
    for name, m in result["measures"].items():
        spread.add_row(name, f"{m['mean']:.4f}", f"{m['std']:.4f}", f"{m['ci95'][0]:.4f}–{m['ci95'][1]:.4f}")
    Console(file=out, highlight=False).print(spread)
    if result.get("by_category"):
        rows = result["by_category"]
        table = Table(title=f"{result['ranker']}: out-of-fold means per category")
        measures = [m for m in result["measures"] if m in next(iter(rows.values()))]
        for col in ("category", "queries", *measures):
            table.add_column(col, justify="left" if col == "category" else "right")
        for category, values in rows.items():
            table.add_row(escape(category), str(values["queries"]), *(f"{values[m]:.4f}" for m in measures))
        Console(file=out, highlight=False).print(table)
    if result.get("report"):
        out.write("  ".join(f"{k} {v:.4g}" for k, v in result["report"].items()) + "\n")
