"""Measures as values: parse ir_measures syntax and trec_eval names in one place.

``nDCG@10``, ``AP(rel=2)``, ``RR(rel=2)@10`` go through ``ir_measures.parse_measure``;
trec_eval names (``map``, ``ndcg_cut.10``, ``P.5,10``, ``all_trec``) through
:mod:`.trec_names`, which keeps trec_eval's printed names (``P_10``) and order.
Measures llmrank computes itself are listed in ``NATIVE``; any other measure
ir_measures knows is computed by ir_measures on the same, canonically ordered run.
"""
from __future__ import annotations

from collections import namedtuple

from ..errors import LlmrankError
from .trec_names import is_trec_name, parse_trec

DEFAULT_MEASURES = ("nDCG@10", "AP", "RR", "P@10", "R@100", "R@1000")
NATIVE = ("P", "R", "AP", "RR", "nDCG", "Rprec", "Success", "Bpref", "Judged",
          "NumRet", "NumRelRet", "NumRel", "NumQ")
SUMMED = ("NumRet", "NumRelRet", "NumRel", "NumQ", "num_nonrel_judged_ret")  # trec_eval sums these in 'all'
GEOMETRIC = ("gm_map", "gm_bpref")  # 'all' is the geometric mean, values floored at 1e-5
SUMMARY_ONLY = ("runid", "NumQ") + GEOMETRIC  # trec_eval prints no per-query line for these
TEXT = ("runid", "relstring")


class Measure(namedtuple("Measure", "kind label cutoff rel gains trec_gains external param trec_eval",
                         defaults=(None,) * 7)):
    """One measure as computed and printed (a named tuple: no dataclasses to load for a small eval).

    kind: one of NATIVE, or "external"; label: the name printed in every output; rel: the
    minimum relevant label (None: the -l level); gains: label -> gain, ideal in true gain order;
    trec_gains: trec_eval's 'ndcg.L=G' parameters in trec_eval's order; external: an ir_measures
    measure it computes; param: trec_eval parameters of the measures that take more than a cutoff;
    trec_eval: the version whose definition it follows where versions differ (None: the default).
    """

    __slots__ = ()

    @property
    def summed(self) -> bool:
        return self.kind in SUMMED

    @property
    def geometric(self) -> bool:
        return self.kind in GEOMETRIC

    @property
    def text(self) -> bool:
        return self.kind in TEXT


def parse_gains(text: str) -> tuple[tuple[int, float], ...]:
    """``0=0,1=1.0,2=0.7`` -> ((0, 0.0), (1, 1.0), (2, 0.7))."""
    pairs = []
    for part in text.split(","):
        label, sep, gain = part.partition("=")
        try:
            pairs.append((int(label), float(gain)))
        except ValueError:
            raise LlmrankError(f"bad gain {part!r} in {text!r}: expected LABEL=GAIN, e.g. 1=1.0,2=0.7") from None
        if not sep:
            raise LlmrankError(f"bad gain {part!r} in {text!r}: expected LABEL=GAIN")
    return tuple(pairs)


# ir_measures' names of trec_eval measures (its pytrec_eval provider computes them by 9.0.8's
# rules): computed by the same engine as the trec_eval spelling, so one measure has one value
TREC_SPELLINGS = {"IPrec": "iprec_at_recall", "SetP": "set_P", "SetR": "set_recall", "SetF": "set_F",
                  "SetAP": "set_map", "infAP": "infAP"}


def _from_ir(m, label: str, trec_eval: str | None = None) -> Measure:
    from ir_measures.providers.base import NOT_PROVIDED

    params = {k: v for k, v in m.params.items() if v is not NOT_PROVIDED}
    name = m.NAME
    if name in TREC_SPELLINGS and not params.get("judged_only"):
        kind = "set_relative_P" if params.get("relative") else TREC_SPELLINGS[name]
        param = params["recall"] if name == "IPrec" else (float(params.get("beta", 1.0)),) if name == "SetF" else None
        return Measure(kind, label, rel=params.get("rel"), param=param, trec_eval=trec_eval)
    if name == "NumRet" and "rel" in params:
        name = "NumRelRet"
    supported = {"cutoff", "rel", "gains"} | ({"dcg"} if params.get("dcg", "log2") == "log2" else set())
    if name not in NATIVE or params.get("judged_only") or set(params) - supported:
        return Measure("external", label, external=m)
    gains = params.get("gains")
    return Measure(name, label, cutoff=params.get("cutoff"), rel=params.get("rel"),
                   gains=tuple(sorted((int(k), float(v)) for k, v in gains.items())) if gains else None)


def parse_measure(text: str, trec_eval: str | None = None) -> list[Measure]:
    """One measure string (trec_eval or ir_measures syntax) -> one or more measures, as trec_eval
    version ``trec_eval`` defines them (None: the default)."""
    import ir_measures

    text = text.strip()
    if is_trec_name(text):
        return parse_trec([text], trec_eval)
    try:
        m = ir_measures.parse_measure(text)
    except (ValueError, NameError, SyntaxError, TypeError, KeyError) as exc:
        raise LlmrankError(f"unknown measure {text!r} ({exc}); use ir_measures syntax such as nDCG@10, "
                           f"AP(rel=2), RR(rel=2)@10 or trec_eval names such as ndcg_cut.10, map, P.10") from None
    return [_from_ir(m, text, trec_eval)]


def parse_measures(texts, trec_eval: str | None = None) -> list[Measure]:
    """Measures in trec_eval syntax come first, in trec_eval's print order; the others follow as given."""
    parts = [part.strip() for text in texts or DEFAULT_MEASURES for part in split_measures(text)]
    trec = [p for p in parts if is_trec_name(p)]
    out = parse_trec(trec, trec_eval) if trec else []
    for part in parts:
        if not is_trec_name(part):
            out.extend(parse_measure(part, trec_eval))
    return out


def split_measures(text: str) -> list[str]:
    """Split ``'nDCG@10 AP(rel=2)'`` on spaces outside parentheses (one -m may list several)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch in "({"
        depth -= ch in ")}"
        if ch.isspace() and depth == 0:
            if cur:
                parts.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return parts
