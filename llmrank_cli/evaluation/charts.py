"""`llmrank report`'s charts, drawn by matplotlib as inline SVG: no script and no network to show
them. Bars of the per-query chart link to the query they stand for (``#ANCHOR``)."""
from __future__ import annotations

import functools
import io

from markupsafe import Markup

POINTS = 1000  # points drawn per run in the distributions
WIN, LOSS, TIE = "#2e7d32", "#c62828", "#9e9e9e"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


STYLE = {"svg.fonttype": "none", "svg.hashsalt": "llmrank", "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False}


def _axes(width: float, height: float):
    """A figure of its own (no pyplot: no global state, no GUI backend) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def styled(chart):
    """Draw ``chart`` under STYLE (matplotlib reads its settings as each piece is made)."""
    @functools.wraps(chart)
    def draw(*args, **kwargs) -> Markup:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return chart(*args, **kwargs)
    return draw


def _svg(fig) -> Markup:
    """The figure as an inline <svg> element (matplotlib escapes every text it writes)."""
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = out.getvalue()  # matplotlib opens every link in a new tab: these stay on the page
    return Markup(text[text.index("<svg"):].replace(' target="_blank"', ""))


@styled
def per_query(deltas: list[tuple[str, float]], anchor_of: dict[str, str], measure: str, run: str,
              baseline: str) -> Markup:
    """Each query's delta against the baseline, sorted; a bar is a link to its query when the
    page draws that query."""
    fig, ax = _axes(6.5, 2.2)
    values = [d for _, d in deltas]
    bars = ax.bar(range(len(values)), values, width=0.85,
                  color=[WIN if d > 1e-9 else LOSS if d < -1e-9 else TIE for d in values])
    for bar, (qid, delta) in zip(bars, deltas):
        if qid in anchor_of:
            bar.set_url(f"#{anchor_of[qid]}")
    ax.axhline(0, color="#444", linewidth=0.6)
    ax.set_xticks([])
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_xlabel(f"{len(values)} queries, sorted by Δ")
    ax.set_ylabel(f"Δ {measure}")
    ax.set_title(f"{run} − {baseline}", loc="left", fontsize=9)
    return _svg(fig)


@styled
def distributions(values: list[list[float]], runs: list[str], measure: str) -> Markup:
    """Each run's per-query values: a box, and over it each query as a point (past POINTS
    queries, a seeded sample of them)."""
    import numpy as np

    fig, ax = _axes(9, 0.45 * len(runs) + 0.9)
    ax.boxplot(values, orientation="horizontal", widths=0.5, showfliers=False, medianprops={"color": "#111"})
    jitter = np.random.default_rng(0)
    for i, v in enumerate(values, 1):
        v = v if len(v) <= POINTS else jitter.choice(v, POINTS, replace=False)
        ax.scatter(v, i + jitter.uniform(-0.15, 0.15, len(v)), s=6, alpha=0.45, color=PALETTE[(i - 1) % 10],
                   linewidths=0)
    ax.set_yticks(range(1, len(runs) + 1), runs)
    ax.invert_yaxis()
    ax.set_xlabel(measure)
    return _svg(fig)


@styled
def by_category(table: list[tuple[str, list[float]]], runs: list[str], measure: str) -> Markup:
    """The measure per category (rows of ``table``: category, one value per run), runs side by
    side."""
    fig, ax = _axes(9, max(1.6, 0.22 * len(table) * len(runs) + 0.9))
    height = 0.8 / len(runs)
    for r, run in enumerate(runs):
        ax.barh([i + r * height for i in range(len(table))], [row[1][r] for row in table], height=height,
                label=run, color=PALETTE[r % 10])
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(table))], [row[0] for row in table])
    ax.invert_yaxis()
    ax.set_xlabel(measure)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    return _svg(fig)
