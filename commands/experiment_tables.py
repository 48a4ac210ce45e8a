"""The tables of docs/experiments/*.md, generated from the runs/*.csv files the recipes write, so
that a page cannot drift from its numbers. A page marks each table with a comment holding its
spec (JSON) and an end mark; `python commands/make_docs.py` rewrites what lies between, and the
suite checks the committed pages equal what this writes (tests/test_docs.py).

    <!-- table {"csv": ["runs/dl19-minilm-bi.eval.csv"], "runs": {"PATH": "label", ...}} -->
    ...generated...
    <!-- end table -->

Specs: ``csv`` + ``runs`` (one eval CSV of `llmrank eval --format csv`, its paired tests
included: a row per run, a column per measure, bold the best, † significant against the first
run, and a Δ column on the first measure); ``csv`` (several) + ``rows`` + ``runs`` keyed by the
run file's stem (a row per file, e.g. per dataset, a column per run, ``brief`` runs showing the
first measure only, a ``STEM:MEASURE`` key that one measure, ``delta`` naming the run whose Δ
gets a column), or without ``runs`` a row per file of one run and a column per measure of
``columns``; ``csv`` + ``sets`` + ``runs`` (the other way round: a row per run, a column per
file); ``csv`` + ``rows`` + ``seeds`` (per ranker, a list or names -> labels, its runs over seeds:
mean ± std, Δ, spread); ``epochs`` (a row per epoch of each training log). ``measures`` picks and
orders the measures shown. A ``csv`` entry may be a list of files read as one (an eval CSV and a CSV of
the same shape holding a CV's report, e.g.).
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

MARK = re.compile(r"(<!-- table (\{.*?\}) -->\n)(.*?)(<!-- end table -->)", re.S)


def read_eval(paths: Path | list[Path]) -> tuple[dict, dict]:
    """(run -> measure -> value, (run, measure) -> paired-test row) of an eval CSV (or several,
    merged)."""
    values, tests, header = {}, {}, None
    paths = paths if isinstance(paths, list) else [paths]
    lines = [line for path in paths for line in [*path.read_text().splitlines(), ""]]
    for row in csv.reader(lines):
        if not row:
            header = None
            continue
        if header is None:
            header = row
            continue
        record = dict(zip(header, row))
        if "p_value" in record:
            tests[record["run"], record["measure"]] = record
        elif record["qid"] == "all":
            values.setdefault(record["run"], {})[record["measure"]] = float(record["value"])
    return values, tests


def _number(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def _delta(test: dict) -> str:
    """``+0.0191 (p 2.5e-107†; 5167/3898/2967)``: Δ, p († significant) and wins/ties/losses."""
    mark = "†" if test["significant"] == "1" else ""
    return (f"{float(test['delta']):+.4f}".replace("-", "−")
            + f" (p {float(test['p_value']):.2g}{mark}; {test['wins']}/{test['ties']}/{test['losses']})")


def _cell(value: float, best: bool, test: dict | None) -> str:
    text = _number(value) + ("†" if test and test["significant"] == "1" else "")
    return f"**{text}**" if best else text


def _rows(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows]) + "\n"


def runs_table(root: Path, spec: dict) -> str:
    values, tests = read_eval(root / spec["csv"][0])
    missing = [r for r in spec["runs"] if r not in values]
    if missing:
        raise ValueError(f"{spec['csv'][0]} has no run {missing[0]}")
    measures = spec.get("measures") or list(values[next(iter(spec["runs"]))])
    best = {m: max(values[r][m] for r in spec["runs"]) for m in measures}
    header = [spec.get("title", "run"), *measures] + ([f"Δ {measures[0]} (p; w/t/l)"] if tests else [])
    rows = []
    for run, label in spec["runs"].items():
        row = [label] + [_cell(values[run][m], values[run][m] == best[m] and len(spec["runs"]) > 1,
                               tests.get((run, m))) for m in measures]
        if tests:
            row.append(_delta(tests[run, measures[0]]) if (run, measures[0]) in tests else "")
        rows.append(row)
    return _rows(header, rows)


def measures_table(root: Path, spec: dict) -> str:
    """A row per file of one run each, a column per measure (``columns``: measure -> header)."""
    rows = []
    for path, label in zip(spec["csv"], spec["rows"]):
        (got,) = read_eval(root / path)[0].values()
        rows.append([label, *(str(int(got[m])) if m.startswith("num_") else _number(got[m]) for m in spec["columns"])])
    return _rows([spec.get("title", "set"), *spec["columns"].values()], rows)


def _read_by_stem(root: Path, entry: str | list[str]) -> tuple[dict, dict]:
    """An eval CSV entry's (stem -> measure -> value, (stem, measure) -> paired-test row); a
    run's stem is its file name less ``.run``."""
    values, tests = read_eval([root / p for p in entry] if isinstance(entry, list) else root / entry)
    stem = {run: Path(run).name.removesuffix(".run") for run in values}
    return {stem[r]: v for r, v in values.items()}, {(stem[r], m): t for (r, m), t in tests.items()}


def files_table(root: Path, spec: dict) -> str:
    measures, delta = spec["measures"], spec.get("delta")
    header = [spec.get("title", "set"), *spec["runs"].values()]
    header += [f"Δ {spec['runs'][delta]} (p; w/t/l)"] if delta else []
    rows = []
    for entry, label in zip(spec["csv"], spec["rows"]):
        values, tests = _read_by_stem(root, entry)
        best = max(values[s][measures[0]] for s in spec["runs"] if s in values)
        row = [label]
        for key in spec["runs"]:
            stem, _, measure = key.partition(":")
            if stem not in values:
                row.append("not run")
            elif measure:
                row.append(_number(values[stem][measure]))
            else:
                got, rest = values[stem], [] if stem in spec.get("brief", ()) else measures[1:]
                first = _cell(got[measures[0]], got[measures[0]] == best, tests.get((stem, measures[0])))
                row.append(" / ".join([first, *(_number(got[m]) for m in rest)]))
        if delta:
            row.append(_delta(tests[delta, measures[0]]))
        rows.append(row)
    return _rows(header, rows)


def sets_table(root: Path, spec: dict) -> str:
    """A row per run (by stem), a column per file (``sets``: their labels), each cell the run's
    ``measures`` there, e.g. an ablation's nDCG@10, R@K and UPQE on each dataset."""
    first, *rest = spec["measures"]
    files = [_read_by_stem(root, entry) for entry in spec["csv"]]
    rows = [[label, *(", ".join([_cell(values[stem][first], False, tests.get((stem, first))),
                                 *(_number(values[stem][m]) for m in rest)]) if stem in values else "not run"
                      for values, tests in files)]
            for stem, label in spec["runs"].items()]
    return _rows([spec.get("title", "run"), *spec["sets"]], rows)


def epochs_table(root: Path, spec: dict) -> str:
    measures = spec["measures"]
    header = [spec.get("title", "run"), "epoch", "train loss", "eval loss",
              *(m.removeprefix("eval_") for m in measures)]
    rows = []
    for path, label in spec["epochs"].items():
        for record in csv.DictReader((root / path).read_text().splitlines()):
            rows.append([label, record["epoch"], *(_number(float(record[k])) for k in ("train_loss", "eval_loss")),
                         *(_number(float(record[m])) for m in measures)])
    return _rows(header, rows)


def seeds_table(root: Path, spec: dict) -> str:
    """A row per file (a dataset), the first run of each its baseline; per ranker of ``seeds`` its
    runs ``NAME-seedN``: the measure's mean ± std over the seeds, the mean Δ against the baseline,
    how many seeds' Δ were significant, and, where the mean Δ is smaller than the seeds' spread
    (max − min), that it is."""
    import statistics

    measure = spec["measures"][0]
    labels = spec["seeds"] if isinstance(spec["seeds"], dict) else {name: name for name in spec["seeds"]}
    header = [spec.get("title", "set"), f"baseline {measure}"] + [f"{label}: mean ± std; Δ"
                                                                   for label in labels.values()]
    rows = []
    for entry, label in zip(spec["csv"], spec["rows"]):
        values, tests = _read_by_stem(root, entry)
        base = next(iter(values))
        row = [label, f"{_number(values[base][measure])} ({base})"]
        for name in spec["seeds"]:
            runs = sorted(s for s in values if s.startswith(f"{name}-seed"))
            if not runs:
                row.append("not run on this set")
                continue
            got = [values[r][measure] for r in runs]
            delta = statistics.mean(got) - values[base][measure]
            spread = max(got) - min(got)
            significant = sum(tests[r, measure]["significant"] == "1" for r in runs)
            note = f"; within the seeds' spread ({_number(spread)})" if abs(delta) < spread else ""
            row.append(f"{_number(statistics.mean(got))} ± {_number(statistics.stdev(got))}; "
                       + f"{delta:+.4f}".replace("-", "−") + f", † in {significant} of {len(runs)} seeds{note}")
        rows.append(row)
    return _rows(header, rows)


def table(root: Path, spec: dict) -> str:
    if "epochs" in spec:
        return epochs_table(root, spec)
    if "seeds" in spec:
        body = seeds_table(root, spec)
    elif "sets" in spec:
        body = sets_table(root, spec)
    elif "rows" not in spec:
        body = runs_table(root, spec)
    else:
        body = files_table(root, spec) if "runs" in spec else measures_table(root, spec)
    return body + provenance(root, spec)


PROVENANCE = ("llmrank", "torch", "transformers", "sentence-transformers", "lock", "cpu")
RECORD = ".provenance.json"  # beside a recipe's CSV, written by commands/provenance.py


def write_record(csv_path: Path) -> None:
    """Beside ``csv_path``, the environment the recipe that wrote it ran in: the key versions,
    the lock and the CPU (a CV's runs in out/ have no manifest of their own)."""
    from datetime import datetime, timezone

    from llmrank_cli.manifest import versions

    record = {"csv": csv_path.name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "versions": versions()}
    Path(f"{csv_path}{RECORD}").write_text(json.dumps(record, indent=2) + "\n")


def provenance(root: Path, spec: dict) -> str:
    """A line under a table: what the manifests beside its runs and the recipe records beside its
    CSVs record (the key versions, the lock and the CPU), each value once, and in how many of them
    where not all do; what none records is said to be missing."""
    files = [f for entry in spec["csv"] for f in (entry if isinstance(entry, list) else [entry])]
    runs = {run for f in files for run in read_eval(root / f)[0]}
    # only runs/ is committed: a manifest elsewhere (out/) would make a fresh clone's page differ
    manifests = [json.loads(m.read_text()) for m in sorted((root / f"{r}.manifest.json" for r in runs
                                                            if r.startswith("runs/")), key=str) if m.is_file()]
    records = [json.loads(r.read_text()) for r in (root / f"{f}{RECORD}" for f in files) if r.is_file()]
    if not manifests and not records:
        return ("\n_Provenance: no run of this table has a manifest in runs/ (shared runs, or CV runs kept in out/) "
                "and no CSV of it a recipe record._\n")
    parts, missing, sources = [], [], manifests + records
    for key in PROVENANCE:
        values = [m.get("versions", {}).get(key) for m in sources]
        seen = sorted(set(values) - {None})
        partly = f" (in {len(values) - values.count(None)} of {len(sources)})" if seen and None in values else ""
        (parts if seen else missing).append(f"{key} {' / '.join(seen)}{partly}" if seen else key)
    told = f"; not recorded: {', '.join(missing)} (runs made before manifests named them)" if missing else ""
    counted = f"{len(manifests)} of {len(runs)} runs' manifests" + (
        f", {len(records)} of {len(files)} CSVs' recipe records" if records else "")
    return f"\n_Provenance ({counted}): {'; '.join(parts)}{told}._\n"


def regenerate(root: Path, text: str) -> str:
    """``text`` with every marked table rewritten from its CSVs."""
    return MARK.sub(lambda m: m.group(1) + table(root, json.loads(m.group(2))) + m.group(4), text)


def pages(root: Path) -> dict[str, str]:
    """Path -> regenerated text of every experiment page that holds a marked table."""
    out = {}
    for page in sorted((root / "docs" / "experiments").glob("*.md")):
        text = page.read_text()
        if MARK.search(text):
            out[str(page.relative_to(root))] = regenerate(root, text)
    return out
