"""How trec_eval prints values, and its ``measure<TAB>qid<TAB>value`` layout, for both engines'
evaluations. Apart from report.py, whose csv, json and typing imports would add half again to a
quick ``eval --format trec`` call."""
from __future__ import annotations

import math

from .measures import SUMMARY_ONLY


def value_text(measure, v: float) -> str:
    if measure.summed:
        return str(int(round(v)))
    if math.isnan(v):  # C's printf shows the sign of 0/0's NaN
        return "-nan" if math.copysign(1.0, v) < 0 else "nan"
    return f"{v:.4f}"


def cell(ev, mi: int, qi: int | None, v: float, quoted: bool = False) -> str:
    """One printed value: per query (qi) or 'all' (qi None, v the aggregate)."""
    m = ev.measures[mi]
    if m.text:
        if qi is None and m.kind == "relstring" or not ev.qids:
            return ""
        text = ev.texts[m.label][qi if qi is not None else 0]
        return f"'{text}'" if quoted and m.kind == "relstring" else text
    return value_text(m, v)


def printed(ev, mi: int, qi: int | None) -> bool:
    """trec_eval prints runid, num_q and gm_* only for 'all', relstring only per query, and
    per-query lines only for queries the run has (10.0's -c: every one); ir_measures prints no
    value for a query its measure is undefined on (NaN here)."""
    m = ev.measures[mi]
    if qi is None:
        return m.kind != "relstring"
    v = ev.values[mi][qi]
    return m.kind not in SUMMARY_ONLY and (ev.present is None or bool(ev.present[qi])) and \
        (m.kind != "external" or v == v)


def write_trec(evals: list, out, per_query: bool) -> None:
    """trec_eval's ``measure<TAB>qid<TAB>value`` lines (``%-22s\\t%s\\t%6.4f``) of evaluations:
    the engine's or the plain engine's."""
    for ev in evals:
        if len(evals) > 1 and not any(m.kind == "runid" for m in ev.measures):
            out.write(f"{'runid':<22}\tall\t{ev.run_name}\n")
        if per_query:
            for qi, qid in enumerate(ev.qids):
                for mi, m in enumerate(ev.measures):
                    if printed(ev, mi, qi):
                        out.write(f"{m.label:<22}\t{qid}\t{cell(ev, mi, qi, ev.values[mi][qi], True)}\n")
        for mi, (m, v) in enumerate(zip(ev.measures, ev.aggregate())):
            if printed(ev, mi, None):
                out.write(f"{m.label:<22}\tall\t{cell(ev, mi, None, v)}\n")
