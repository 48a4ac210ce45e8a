"""Evaluation: measure parsing, the trec_eval-exact engine, significance tests, reports. Names
load their module on first use: the measure parser and the plain engine need no numpy."""
from ..lazy import exports

_WHERE = {"Evaluation": "engine", "evaluate": "engine", "DEFAULT_MEASURES": "measures", "Measure": "measures",
          "parse_gains": "measures", "parse_measures": "measures", "FORMATS": "report", "render": "report",
          "compare_to_baseline": "significance"}
__all__ = sorted(_WHERE)
__getattr__ = exports(__name__, _WHERE)
