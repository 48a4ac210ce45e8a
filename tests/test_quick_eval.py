"""The quick ``eval`` (cli/quick.py, the plain engine and readers): a plain small call prints
the full command's bytes without loading numpy, Arrow or typer, and anything else goes to the
full command."""
import gzip
import subprocess
import sys

import pytest

from llmrank_cli.cli import app, quick
from llmrank_cli.formats import plain as plain_files

from .conftest import shared
from .test_eval_vs_trec_eval import DL_RUNS, FLAGS, PLAIN_MEASURES, VERSIONS, _random_files


def _both(capsys, argv: list[str]) -> tuple[str, str]:
    """(the quick path's output, the full command's); the quick path must have answered."""
    assert quick.quick_eval(list(argv)) == 0
    ours = capsys.readouterr().out
    assert app.main(list(argv)) == 0
    return ours, capsys.readouterr().out


def _qids(path: str) -> set[str]:
    return {line.split()[0] for line in open(path)}


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("seed", range(12))
def test_quick_path_prints_the_full_commands_bytes(capsys, tmp_path, seed, version):
    qrels, run = _random_files(seed, tmp_path, binary=seed % 3 == 0)
    for flags in FLAGS:
        argv = ["eval", "--format", "trec", "--trec-eval", version, "-q", *flags, *PLAIN_MEASURES, qrels, run, run]
        if version == "10.0" and "-c" not in flags and _qids(qrels) - _qids(run):
            assert quick.quick_eval(argv) is None  # the full command says what trec_eval 10.0 does with these
            continue
        ours, full = _both(capsys, argv)
        assert ours == full, flags


IR_MEASURES = ["-m", "nDCG@10", "-m", "AP(rel=2)", "-m", "RR(rel=2)@10", "-m", "P(rel=2)", "-m", "P@5", "-m", "R",
               "-m", "R@100", "-m", "Success@3", "-m", "NumRet(rel=1)", "-m", "NumRel", "-m", "map"]


@pytest.mark.parametrize("fmt", ["table", "tsv", "csv", "latex"])
@pytest.mark.parametrize("seed", range(4))
def test_quick_path_prints_every_format_as_the_full_command(capsys, tmp_path, fmt, seed):
    qrels, run = _random_files(seed, tmp_path, binary=False)
    other = tmp_path / "other.run"  # a second run (the same lines), for the multi-run layouts
    other.write_text((tmp_path / "run").read_text())
    measures = IR_MEASURES if seed % 2 else []  # eval's default: nDCG@10 AP RR P@10 R@100 R@1000
    for flags in (["-q"], ["-c", "-l", "2", "-M", "7"]):
        ours, full = _both(capsys, ["eval", "--format", fmt, *flags, *measures, qrels, run, str(other)])
        assert ours == full, flags


@pytest.mark.slow
@pytest.mark.parametrize("year, run", DL_RUNS)
def test_quick_path_on_trec_dl_runs(capsys, year, run):
    d = shared("trec-dl", year)
    for flags in ([], ["-q", "-c", "-l", "2", "-M", "10"]):
        ours, full = _both(capsys, ["eval", "--format=trec", *flags, *PLAIN_MEASURES, str(d / "qrels.txt"),
                                    str(d / f"{run}.run")])
        assert ours == full, flags


QRELS, RUN = "1 0 a 2\n1 0 b 0\n2 0 c 1\n", "1 Q0 a 1 2.5 t\n1 Q0 b 2 1 t\n2 Q0 c 1 3 t\n"


@pytest.mark.parametrize("argv, run_text, qrels_text", [
    (["-m", "bpref"], RUN, QRELS),                       # a measure the plain engine leaves to the engine
    (["-m", "ERR@10"], RUN, QRELS),                      # computed by ir_measures
    (["-m", "nDCG(gains={0:0,1:1,2:0.5})@10"], RUN, QRELS),  # a gain map
    (["-m", "ndcg.1=2"], RUN, QRELS),                    # trec_eval gain parameters
    (["-m", "map", "--by", "cats"], RUN, QRELS),         # a flag it does not take
    (["-m", "map", "-M", "0"], RUN, QRELS),              # a value the full command refuses
    (["-m", "map"], RUN.replace("2.5", "nan"), QRELS),   # NaN score
    (["-m", "map"], RUN + "1 Q0 a 3 0 t\n", QRELS),      # docno twice
    (["-m", "map"], "# comment\n" + RUN, QRELS),         # comment line
    (["-m", "map"], RUN.replace(" t\n", " t x\n"), QRELS),  # 7 fields
    (["-m", "map"], RUN.replace("1 Q0 b 2", "1 Q0 b 2.0"), QRELS),  # rank not an integer
    (["-m", "map"], RUN.replace("b", "\u00e9"), QRELS),  # not ASCII
    (["-m", "map"], RUN, QRELS + "1 0 a 1\n"),           # judged twice
    (["-m", "map"], RUN, "4 0 z 1\n"),                 # no shared query
    (["-m", "map"], RUN, QRELS + "3 0 z 1\n"),         # 10.0 stops on a qrels query the run lacks: noted
])
def test_anything_else_goes_to_the_full_command(tmp_path, argv, run_text, qrels_text):
    (tmp_path / "q").write_text(qrels_text)
    (tmp_path / "r").write_text(run_text)
    assert quick.quick_eval(["eval", "--format", "trec", *argv, str(tmp_path / "q"), str(tmp_path / "r")]) is None


def test_gzip_stdin_large_and_non_trec_output_go_to_the_full_command(tmp_path, monkeypatch):
    q, r = tmp_path / "q", tmp_path / "r"
    q.write_text(QRELS)
    r.write_text(RUN)
    gz = tmp_path / "r.gz"
    gz.write_bytes(gzip.compress(RUN.encode()))
    base = ["eval", "-m", "map"]
    assert quick.quick_eval([*base, "--format", "trec", str(q), str(gz)]) is None
    assert quick.quick_eval([*base, "--format", "trec", str(q), "-"]) is None
    assert quick.quick_eval([*base, "--format", "json", str(q), str(r)]) is None
    assert quick.quick_eval(["eval", "--format", "trec", str(q), str(r)]) is None  # trec_eval's default: official
    monkeypatch.setattr(plain_files, "PLAIN_BYTES", len(RUN) - 1)
    assert quick.quick_eval([*base, "--format", "trec", str(q), str(r)]) is None


def test_errors_still_name_file_and_line(cli, write):
    qrels, run = write("q", QRELS), write("dup.run", RUN + "1 Q0 a 3 0 t\n")
    r = cli("eval", "--format", "trec", "-m", "map", qrels, run)
    assert r.code == 2 and "dup.run:4: docno a appears more than once for qid 1" in r.err and not r.out


def test_output_file_holds_the_full_commands_bytes(write, tmp_path):
    qrels, run = write("q", QRELS), write("r", RUN)
    ours, full = tmp_path / "ours.txt", tmp_path / "full.txt"
    assert quick.quick_eval(["eval", "--format", "trec", "-m", "map", "-m", "P.1", "-o", str(ours), qrels, run]) == 0
    assert app.main(["eval", "--format", "trec", "-m", "map", "-m", "P.1", "-o", str(full), qrels, run]) == 0
    assert ours.read_bytes() == full.read_bytes() != b""


def test_an_unwritable_output_is_reported_by_the_full_command(cli, write, tmp_path):
    qrels, run = write("q", QRELS), write("r", RUN)
    assert quick.quick_eval(["eval", "--format", "trec", "-m", "map", "-o", str(tmp_path), qrels, run]) is None
    r = cli("eval", "--format", "trec", "-m", "map", "-o", str(tmp_path), qrels, run)
    assert r.code == 2 and r.err.startswith("llmrank: error:") and "is a directory" in r.err and "Traceback" not in r.err


def test_quick_flags_are_evals_own():
    import importlib

    import typer

    importlib.import_module("llmrank_cli.cli.eval")
    command = typer.main.get_command(app.app).commands["eval"]
    names = {opt for param in command.params for opt in param.opts}
    assert set(quick._VALUED) | set(quick._SWITCHES) <= names


def _loaded(*argv: str) -> tuple[str, list[str]]:
    """(stdout, which of numpy, pyarrow, typer, pandas, rich, ir_measures a process running
    ``llmrank ARGV`` loaded)."""
    code = ("import sys; from llmrank_cli.cli import main; code = main(sys.argv[1:]); print(sorted(m for m in "
            "('numpy', 'pyarrow', 'typer', 'pandas', 'rich', 'ir_measures') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    out, _, loaded = done.stdout.rstrip("\n").rpartition("\n")
    return out, eval(loaded)


def test_a_quick_call_loads_no_numpy_arrow_or_typer(write):
    qrels, run = write("q", QRELS), write("r", RUN)
    out, loaded = _loaded("eval", "--format", "trec", "-m", "ndcg_cut.10", "-m", "P.5", qrels, run, run)
    assert loaded == [] and out.count("ndcg_cut_10") == 2
    out, loaded = _loaded("eval", qrels, run)  # a table of eval's default measures
    assert loaded == ["ir_measures", "rich"] and "nDCG@10" in out
