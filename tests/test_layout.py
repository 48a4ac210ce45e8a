"""The tree's shape: data flows one way, so no module imports a package drawn above its own (the
floors below, lowest first; README's layout), at the top of a file or inside a function."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "llmrank_cli"
FLOORS = ["errors", "lazy", "settings", "progress", "resources", "sample", "formats", "manifest", "evaluation", "kit",
          "retrieval", "datasets", "training", "rankers", "jobs", "api", "pipelines", "verbs", "cli", "__main__"]


def _imports(path: Path):
    """(line, first part of the llmrank_cli module) of every relative import in ``path``."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            parts = base + (node.module.split(".") if node.module else [node.names[0].name])
            yield node.lineno, parts[0]


def test_no_import_climbs_a_floor():
    climbing = []
    for path in PACKAGE.rglob("*.py"):
        top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if top == "__init__":
            continue
        assert top in FLOORS, f"{top} has no floor: add it to FLOORS"
        climbing += [f"{path.relative_to(PACKAGE)}:{line} imports {target}" for line, target in _imports(path)
                     if target in FLOORS and FLOORS.index(target) > FLOORS.index(top)]
    assert not climbing


def test_pipelines_and_commands_pass_jobs_not_namespaces():
    """No pipeline, command or API verb takes a namespace of flags (``a``, ``args``) or builds one
    (``SimpleNamespace``); a pipeline's first parameters are a job or plain values."""
    found = []
    for folder in ("pipelines", "cli"):
        for path in (PACKAGE / folder).glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found += [f"{path.name}:{node.lineno} {node.name}({a.arg})" for a in node.args.args
                              if a.arg in ("a", "args", "namespace")]
                elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) \
                        == "SimpleNamespace" and folder == "cli":
                    found.append(f"{path.name}:{node.lineno} SimpleNamespace")
    assert not found
