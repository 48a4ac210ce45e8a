"""Query categories, ``qid<TAB>category`` (MMLU-Pro's subjects, RouterBench's sources, the
track's per-category reports): every measure can be broken down by them."""
from __future__ import annotations

from ..errors import InputError
from .io import display_name, iter_lines


def read_categories(path, qids=None) -> dict[str, str]:
    """qid -> category; with ``qids``, every one of them must have a category."""
    name, category_of = display_name(path), {}
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise InputError(name, lineno, "expected qid<TAB>category")
        if fields[0] in category_of:
            raise InputError(name, lineno, f"query {fields[0]} has a second category")
        category_of[fields[0]] = fields[1].strip()
    missing = [q for q in qids or () if q not in category_of]
    if missing:
        raise InputError(name, None, f"no category for {len(missing)} of the {len(qids)} queries "
                                     f"(first: {missing[0]})")
    return category_of
