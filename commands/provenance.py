#!/usr/bin/env python3
"""Record, beside each CSV a recipe wrote, the environment it ran in (the key versions, the lock
and the CPU): CSV.provenance.json, named under the tables generated from that CSV
(commands/experiment_tables.py). Recipes call it after each CSV they write, so it names their
last run's environment: work a rerun reused from out/ (a CV, a model) may be older; the run
manifests in runs/ say when.

Usage: python commands/provenance.py CSV...
"""
import sys
from pathlib import Path

from experiment_tables import write_record

if __name__ == "__main__":
    for path in sys.argv[1:]:
        write_record(Path(path))
