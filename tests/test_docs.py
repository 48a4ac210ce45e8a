"""The docs stay true: ranker pages equal what the registry generates, every relative link in the
README and docs/ points at a file, and the README stays short."""
import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "commands" / "make_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ranker_pages_are_fresh():
    wanted = {k: v for k, v in _generator().pages().items() if k.startswith("docs/rankers/")}
    committed = {f"docs/rankers/{p.name}": p.read_text() for p in (ROOT / "docs" / "rankers").glob("*.md")}
    assert set(committed) == set(wanted), "run python commands/make_docs.py"
    stale = [path for path, text in wanted.items() if committed[path] != text]
    assert not stale, f"run python commands/make_docs.py: {stale} changed"


def test_experiment_tables_equal_the_runs_csvs():
    wanted = {k: v for k, v in _generator().pages().items() if k.startswith("docs/experiments/")}
    assert "docs/experiments/dl19-rerank.md" in wanted
    stale = [path for path, text in wanted.items() if (ROOT / path).read_text() != text]
    assert not stale, f"run python commands/make_docs.py: {stale} differ from their runs/*.csv"


def test_tables_merge_a_report_and_say_what_was_not_run(tmp_path):
    """An eval CSV and a report CSV read as one file: a row per run across two sets, its first
    measure marked † where the paired test says so, a measure from the report, 'not run' where a
    set lacks the run; and a STEM:MEASURE column in a table of a row per set."""
    for name, (ours, p_value) in {"a": (0.5, 0.001), "b": (0.25, 0.5)}.items():
        (tmp_path / f"{name}.eval.csv").write_text(
            f"run,qid,measure,value\ncv/prior.run,all,nDCG@10,0.4\ncv/k5.run,all,nDCG@10,{ours}\n\n"
            f"run,measure,delta,p_value,wins,ties,losses,significant\n"
            f"cv/k5.run,nDCG@10,{ours - 0.4},{p_value},3,1,2,{int(p_value < 0.05)}\n")
        (tmp_path / f"{name}.report.csv").write_text(f"run,qid,measure,value\ncv/k5.run,all,UPQE,{ours / 2}\n")
    for kind, row in (("eval", "cv/k3.run,all,nDCG@10,0.3"), ("report", "cv/k3.run,all,UPQE,0.1")):  # k3: on A only
        path = tmp_path / f"a.{kind}.csv"
        path.write_text(path.read_text().replace("\n", f"\n{row}\n", 1))
    tables = _generator().experiment_tables
    csvs = [[f"{name}.eval.csv", f"{name}.report.csv"] for name in ("a", "b")]
    by_run = tables.table(tmp_path, {"csv": csvs, "sets": ["A", "B"], "measures": ["nDCG@10", "UPQE"],
                                     "runs": {"k5": "K 5", "k3": "K 3"}})
    assert by_run.splitlines()[2:4] == ["| K 5 | 0.5000†, 0.2500 | 0.2500, 0.1250 |",
                                        "| K 3 | 0.3000, 0.1000 | not run |"]
    assert by_run.splitlines()[5] == ("_Provenance: no run of this table has a manifest in runs/ (shared runs, or CV "
                                      "runs kept in out/) and no CSV of it a recipe record._")
    by_set = tables.table(tmp_path, {"csv": csvs, "rows": ["A", "B"], "measures": ["nDCG@10"],
                                     "runs": {"prior": "prior", "k5": "K 5", "k5:UPQE": "UPQE"}, "delta": "k5"})
    assert by_set.splitlines()[0] == "| set | prior | K 5 | UPQE | Δ K 5 (p; w/t/l) |"
    assert by_set.splitlines()[3] == "| B | **0.4000** | 0.2500 | 0.1250 | −0.1500 (p 0.5; 3/1/2) |"


def test_tables_name_the_versions_lock_and_cpu_their_runs_were_made_with(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "t.eval.csv").write_text("run,qid,measure,value\nruns/a.run,all,AP,0.4\nruns/b.run,all,AP,0.5\n"
                                         "runs/c.run,all,AP,0.6\n")
    for run, transformers in (("a", "5.24.0"), ("b", "5.25.0")):
        (tmp_path / "runs" / f"{run}.run.manifest.json").write_text(json.dumps({"versions": {
            "llmrank": "0.1.0", "torch": "2.13.0", "transformers": transformers, "cpu": "EPYC (AVX2)"}}))
    line = _generator().experiment_tables.table(
        tmp_path, {"csv": ["t.eval.csv"], "runs": {"runs/a.run": "A", "runs/b.run": "B", "runs/c.run": "C"}})
    assert line.splitlines()[-1] == ("_Provenance (2 of 3 runs' manifests): llmrank 0.1.0; torch 2.13.0; transformers "
                                     "5.24.0 / 5.25.0; cpu EPYC (AVX2); not recorded: sentence-transformers, lock "
                                     "(runs made before manifests named them)._")


def test_a_recipe_record_names_the_environment_of_runs_without_manifests(tmp_path):
    """CV runs kept in out/ have no manifest: the record commands/provenance.py writes beside the
    CSV names the recipe's environment under the table."""
    import subprocess
    import sys

    from llmrank_cli.manifest import versions

    (tmp_path / "t.eval.csv").write_text("run,qid,measure,value\nout/cv/a.run,all,AP,0.4\n")
    spec = {"csv": ["t.eval.csv"], "runs": {"out/cv/a.run": "A"}}
    assert "no CSV of it a recipe record" in _generator().experiment_tables.table(tmp_path, spec)
    subprocess.run([sys.executable, str(ROOT / "commands" / "provenance.py"), str(tmp_path / "t.eval.csv")],
                   check=True)
    here = versions()
    line = _generator().experiment_tables.table(tmp_path, spec).splitlines()[-1]
    assert line.startswith("_Provenance (0 of 1 runs' manifests, 1 of 1 CSVs' recipe records): llmrank ")
    assert f"lock {here['lock']}; cpu {here['cpu']}._" in line and f"torch {here['torch']};" in line


def test_seed_tables_show_the_spread_and_say_when_a_delta_is_within_it(tmp_path):
    rows = ["run,qid,measure,value", "cv/prior.run,all,nDCG@10,0.5"]
    tests = ["run,measure,delta,p_value,wins,ties,losses,significant"]
    for name, values in {"ltr": (0.60, 0.62, 0.61), "knn": (0.49, 0.52, 0.50)}.items():
        for seed, v in enumerate(values):
            rows.append(f"cv/{name}-seed{seed}.run,all,nDCG@10,{v}")
            tests.append(f"cv/{name}-seed{seed}.run,nDCG@10,{v - 0.5},0.01,3,0,1,{int(name == 'ltr')}")
    (tmp_path / "s.eval.csv").write_text("\n".join(rows) + "\n\n" + "\n".join(tests) + "\n")
    spec = {"csv": ["s.eval.csv"], "rows": ["S"], "seeds": ["ltr", "knn"], "measures": ["nDCG@10"]}
    body = _generator().experiment_tables.table(tmp_path, spec)
    assert body.splitlines()[2] == ("| S | 0.5000 (prior) | 0.6100 ± 0.0100; +0.1100, † in 3 of 3 seeds | "
                                     "0.5033 ± 0.0153; +0.0033, † in 0 of 3 seeds; within the seeds' spread "
                                     "(0.0300) |")


def test_relative_links_resolve():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
