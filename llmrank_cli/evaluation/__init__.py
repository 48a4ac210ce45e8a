"""Evaluation: measure parsing, the trec_eval-exact engine, significance tests, reports."""
from .engine import Evaluation, evaluate
from .measures import DEFAULT_MEASURES, Measure, parse_gains, parse_measures
from .report import FORMATS, render
from .significance import compare_to_baseline

__all__ = ["DEFAULT_MEASURES", "Evaluation", "FORMATS", "Measure", "compare_to_baseline", "evaluate",
           "parse_gains", "parse_measures", "render"]
