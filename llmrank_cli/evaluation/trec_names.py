"""trec_eval's measure names: its table, nicknames, parameter syntax and printed names.

``-m NAME[.PARAMS]`` is read the way trec_eval reads it: the name ends at the
first dot; a nickname (``official``, ``all_trec``, ``set``) marks a list of
names; the first parameters given for a name win; measures are printed in the
table's order, not the command line's. Parameters are cutoffs (``P.5,10``,
sorted, positive, no duplicates), fractions (``iprec_at_recall..10,.20``,
printed ``_0.10``), numbers (``utility.2,-1,0,0``, printed raw) or
``name=value`` pairs (``ndcg.1=1,2=3``, ``rbp.p=0.8``). Under 9.0.8 the measures 10.0 added
are left out of ``all_trec`` and refused by name, as that binary refuses them.
"""
from __future__ import annotations

from collections import namedtuple

from ..errors import LlmrankError


class Spec(namedtuple("Spec", "name params default kind", defaults=(None, (), ""))):
    """A trec_eval measure: its parameters (None, "cuts" (integers), "fractions", "numbers" or
    "pairs"), their default, and the engine's kind (the trec name itself when empty)."""

    __slots__ = ()

    def engine_kind(self) -> str:
        return self.kind or self.name


_CUTS = (5, 10, 15, 20, 30, 100, 200, 500, 1000)
_RECALL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
TABLE = (  # trec_eval's measures.c order, which is its print order
    Spec("runid"), Spec("num_q", kind="NumQ"), Spec("num_ret", kind="NumRet"), Spec("num_rel", kind="NumRel"),
    Spec("num_rel_ret", kind="NumRelRet"), Spec("map", kind="AP"), Spec("gm_map"), Spec("Rprec", kind="Rprec"),
    Spec("bpref", kind="Bpref"), Spec("recip_rank", kind="RR"),
    Spec("iprec_at_recall", "fractions", _RECALL_LEVELS), Spec("P", "cuts", _CUTS, kind="P"),
    Spec("relstring", "numbers", (10,)), Spec("recall", "cuts", _CUTS, kind="R"), Spec("infAP"),
    Spec("gm_bpref"), Spec("Rprec_mult", "fractions", (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)),
    Spec("utility", "numbers", (1.0, -1.0, 0.0, 0.0)), Spec("11pt_avg", "numbers", _RECALL_LEVELS),
    Spec("binG"), Spec("G", "pairs"), Spec("ndcg", "pairs", kind="nDCG"), Spec("ndcg_rel", "pairs"),
    Spec("Rndcg", "pairs"), Spec("ndcg_cut", "cuts", _CUTS, kind="nDCG"), Spec("map_cut", "cuts", _CUTS, kind="AP"),
    Spec("relative_P", "cuts", _CUTS), Spec("success", "cuts", (1, 5, 10), kind="Success"),
    Spec("set_P"), Spec("set_relative_P"), Spec("set_recall"), Spec("set_map"), Spec("set_F", "numbers", (1.0,)),
    Spec("num_nonrel_judged_ret"), Spec("rbp", "pairs"), Spec("rbp_resid", "pairs"), Spec("unj", "cuts", (5, 10, 20)),
)
SPECS = {s.name: s for s in TABLE}
NICKNAMES = {
    "official": ("runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref",
                 "recip_rank", "iprec_at_recall", "P"),
    "set": ("runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "utility", "set_P", "set_recall",
            "set_relative_P", "set_map", "set_F"),
    "all_trec": tuple(s.name for s in TABLE),
}
# trec_eval measures that need other inputs (preference or multi-judge qrels, -J) are not offered.
UNSUPPORTED = ("dcg", "ideal_dcg", "ndcg_p", "yaap", "num_nonjudged_ret", "map_avgjg", "P_avgjg",
               "Rprec_mult_avgjg", "all_prefs", "prefs", "qrels_jg")


def is_trec_name(text: str) -> bool:
    name = text.split(".", 1)[0]
    return name in SPECS or name in NICKNAMES or (name in UNSUPPORTED and "(" not in text)


def parse_trec(texts: list[str], trec_eval: str | None = None) -> list:
    """trec_eval ``-m`` arguments -> Measures in trec_eval's print order, as version
    ``trec_eval`` (None: the default) defines them."""
    from .measures import Measure
    from .versions import has_measure, version

    v = version(trec_eval)
    marked: set[str] = set()
    params: dict[str, str] = {}
    for text in texts:
        name, dot, param = text.partition(".")
        if name in UNSUPPORTED:
            raise LlmrankError(f"measure {name!r} needs preference or multi-judge qrels, which llmrank does not read; "
                               f"-m all_trec lists what it computes")
        if not has_measure(v, name):
            raise LlmrankError(f"measure {name!r} is not in trec_eval {v.name} (10.0 added it); "
                               f"pass --trec-eval 10.0 for it")
        if dot:
            params.setdefault(name, param)
        marked.update(NICKNAMES.get(name, (name,)))
    out = []
    for spec in TABLE:
        if spec.name in marked and has_measure(v, spec.name):
            out.extend(Measure(spec.engine_kind(), label, trec_eval=v.name, **fields)
                       for label, fields in _expand(spec, params.get(spec.name)))
    return out


def _expand(spec: Spec, text: str | None):
    """(printed name, Measure fields) for each value the measure prints."""
    if spec.params is None:
        if text is not None:
            raise LlmrankError(f"measure {spec.name!r} takes no parameters, not {text!r}")
        yield spec.name, {}
    elif spec.params == "cuts":
        for k in _numbers(spec, text, int) if text is not None else spec.default:
            yield f"{spec.name}_{k}", {"cutoff": k}
    elif spec.params == "fractions":
        for f in _numbers(spec, text, float) if text is not None else spec.default:
            yield f"{spec.name}_{f:3.2f}", {"param": f}
    elif spec.params == "numbers":
        values = _numbers(spec, text, float, sort=False) if text is not None else spec.default
        if spec.name == "utility" and len(values) != 4:
            raise LlmrankError(f"utility takes 4 coefficients (retrieved relevant, retrieved non-relevant, missed "
                               f"relevant, missed non-relevant), not {text!r}")
        yield spec.name + (f"_{text}" if text is not None else ""), {"param": tuple(values)}
    else:
        pairs = _pairs(spec, text) if text is not None else ()
        import re

        gains = tuple((int(k), v) for k, v in pairs if re.fullmatch(r"[-+]?\d+", k))
        fields = {"trec_gains": gains if text is not None else None, "param": pairs}
        yield spec.name + (f"_{text}" if text is not None else ""), fields


def _c_number(text: str, kind):
    """C's atol/atof: the longest leading number, 0 when there is none."""
    if kind is int and text.isascii() and text.isdigit():  # ndcg_cut.10: no need to load re
        return int(text)
    import re

    m = re.match(r"\s*[-+]?\d+" if kind is int else r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text)
    return kind(m.group(0)) if m else kind(0)


def _numbers(spec: Spec, text: str, kind, sort: bool = True) -> tuple:
    values = [_c_number(part, kind) for part in text.split(",")]
    if not sort:
        return tuple(values)
    values.sort()
    if kind is int and values[0] <= 0:
        raise LlmrankError(f"{spec.name}.{text}: cutoffs must be positive (trec_eval: negative cutoff detected)")
    if len(set(values)) != len(values):
        raise LlmrankError(f"{spec.name}.{text}: duplicate cutoffs")
    return tuple(values)


def _pairs(spec: Spec, text: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in text.split(","):
        name, eq, value = part.partition("=")
        if not eq or not name:
            raise LlmrankError(f"{spec.name}.{text}: malformed pair parameters, expected NAME=VALUE,... "
                               f"(e.g. {spec.name}.1=1.0,2=3.0)")
        out.append((name, _c_number(value, float)))
    return tuple(out)
