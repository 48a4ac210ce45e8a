"""TREC Million LLMs submission files: ``query_id,LLM_id,rank,score,team_id``.

CSV or TSV with that header. Conversion to and from TREC runs keeps every
score; the team id plays the role of the run tag.
"""
from __future__ import annotations

import csv
import io

from ..errors import InputError, LlmrankError
from .io import atomic_output, display_name, read_text
from .runs import Run

HEADER = ["query_id", "LLM_id", "rank", "score", "team_id"]


def read_submission(path) -> Run:
    name = display_name(path)
    text = read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in next(rows, [])]
    if [h.lower() for h in header] != [h.lower() for h in HEADER]:
        raise InputError(name, 1, f"expected the header {','.join(HEADER)}, found {','.join(header) or 'nothing'}")
    qid, llm, score, team = [], [], [], None
    for lineno, row in enumerate(rows, 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 5:
            raise InputError(name, lineno, f"expected 5 fields, found {len(row)}")
        try:
            int(row[2])
            value = float(row[3])
        except ValueError:
            raise InputError(name, lineno, "rank must be an integer and score a number") from None
        qid.append(row[0].strip())
        llm.append(row[1].strip())
        score.append(value)
        team = team or row[4].strip()
    return Run.from_columns(qid, llm, score, tag=team or "llmrank", name=name)


def write_submission(run: Run, path, team_id: str | None = None) -> None:
    team = team_id or run.tag
    if not team or "," in team or "\t" in team:
        raise LlmrankError(f"team id {team!r} must be non-empty and contain no comma or tab")
    table = run.output_order()
    delimiter = "\t" if str(path).endswith((".tsv", ".tsv.gz")) else ","
    with atomic_output(path) as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        writer.writerow(HEADER)
        for q, d, r, s in zip(*(table[c].to_pylist() for c in ("qid", "docno", "rank", "score"))):
            writer.writerow([q, d, r, repr(float(s)), team])
