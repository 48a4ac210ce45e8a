"""The docs stay true: ranker pages equal what the registry generates, every relative link in the
README and docs/ points at a file, and the README stays short."""
import importlib.util
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


def test_relative_links_resolve():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
