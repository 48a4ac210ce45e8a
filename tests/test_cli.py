"""The CLI contract: outputs, exit codes, one-line errors, lazy imports."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

QRELS = "1 0 a 2\n1 0 b 0\n1 0 c 1\n2 0 d 1\n2 0 e 0\n"
RUN_A = "1 Q0 a 1 3 A\n1 Q0 b 2 2 A\n1 Q0 c 3 1 A\n2 Q0 e 1 2 A\n2 Q0 d 2 1 A\n"
RUN_B = "1 Q0 b 1 3 B\n1 Q0 c 2 2 B\n1 Q0 a 3 1 B\n2 Q0 d 1 2 B\n2 Q0 e 2 1 B\n"


@pytest.fixture
def files(write):
    return write("q.txt", QRELS), write("a.run", RUN_A), write("b.run", RUN_B)


HEAVY = {"torch", "transformers", "sentence_transformers", "pyserini", "pandas", "scipy", "llmrank_cli.rankers",
         "pyarrow.acero"}  # Arrow's query engine: a sixth of a small eval call


def _imported(*argv: str) -> set[str]:
    """The heavy modules a fresh process holds after running ``llmrank ARGV``."""
    code = ("import sys; from llmrank_cli.cli import main; code = main(sys.argv[1:]); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r} or m in {sorted(HEAVY)!r}))")
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, check=True)
    return set(eval(done.stdout.strip().splitlines()[-1]))


def test_help_imports_no_heavy_library():
    assert _imported("--help") == set()
    assert _imported("--version") == set()


def test_light_commands_import_no_heavy_library(files, tmp_path):
    """A subcommand imports only what it runs: eval, validate, fuse, convert and merge never reach
    pandas, torch, transformers, pyserini or the ranker registry (checked after the run, not timed)."""
    q, a, b = files
    assert _imported("eval", q, a, b, "-m", "ndcg_cut.10", "--format", "trec") == set()
    assert _imported("eval", q, a, "-m", "nDCG@10", "-m", "P@1", "--by", _category_file(tmp_path)) == set()
    assert _imported("validate", a, b, "--qrels", q) == set()
    assert _imported("fuse", a, b, "-o", tmp_path / "f.run") == {"pyarrow.acero"}  # its group_by sums the runs
    assert _imported("convert", a, "--format", "msmarco") == set()
    assert _imported("merge", a, "-o", tmp_path / "m.run") == set()
    assert {m.split(".")[0] for m in _imported("eval", q, a, b, "--baseline", a, "-m", "P@1")} == {"scipy"}


def _category_file(tmp_path) -> str:
    path = tmp_path / "cat.tsv"
    path.write_text("1\tx\n2\ty\n")
    return str(path)


def test_command_listing_equals_the_commands_own_help():
    """``llmrank --help`` lists COMMANDS without importing the modules; the texts must stay the
    modules' own (their first paragraph, as typer shows it)."""
    import importlib

    import typer

    from llmrank_cli.cli.app import COMMANDS, app

    for module, _ in COMMANDS.values():
        importlib.import_module(f"llmrank_cli.cli.{module}")
    group = typer.main.get_command(app)
    for name, (_, text) in COMMANDS.items():
        command = group.commands[name]
        assert " ".join(command.help.split("\n\n")[0].split()) == text, name
    assert set(group.commands) == set(COMMANDS)


def test_trec_layout_matches_trec_eval(cli, files):
    q, a, _ = files
    r = cli("eval", "-m", "P.1", "-m", "num_q", "-q", "--format", "trec", q, a)
    assert r.code == 0
    # trec_eval's own output: its table order (num_q first), num_q only for 'all'
    assert r.out.splitlines() == [
        "P_1                   \t1\t1.0000", "P_1                   \t2\t0.0000",
        "num_q                 \tall\t2", "P_1                   \tall\t0.5000",
    ]


def test_json_and_baseline_comparison(cli, files):
    q, a, b = files
    r = cli("eval", q, a, b, "-m", "nDCG@10", "-m", "RR", "--baseline", a, "--format", "json", "--test", "wilcoxon")
    data = json.loads(r.out)
    assert [x["run"] for x in data["runs"]] == [a, b]
    vs = data["runs"][1]["vs_baseline"]["RR"]
    assert (vs["wins"], vs["ties"], vs["losses"]) == (1, 0, 1)
    assert data["runs"][0]["vs_baseline"] == {}


def test_table_marks_and_gains_flag(cli, files):
    q, a, b = files
    r = cli("eval", q, a, b, "--gains", "0=0,1=1.0,2=0.7", "-m", "nDCG@10")
    assert r.code == 0 and "nDCG@10" in r.out and "b.run" in r.out

    def ndcg(*args):
        return json.loads(cli("eval", q, b, "--format", "json", *args).out)["runs"][0]["aggregate"]

    with_gains = ndcg("--gains", "0=0,1=1.0,2=0.7", "-m", "nDCG@10")["nDCG@10"]
    assert with_gains == ndcg("-m", "nDCG(gains={0:0,1:1.0,2:0.7})@10")["nDCG(gains={0:0,1:1.0,2:0.7})@10"]
    assert with_gains != ndcg("-m", "nDCG@10")["nDCG@10"]  # labels as gains: 2 counts twice 1, not 0.7


def test_stdin_run_and_output_file(cli, files, tmp_path):
    q, _, _ = files
    out = tmp_path / "res.tsv"
    r = cli("eval", q, "-", "-m", "P@1", "--format", "tsv", "-o", out, stdin=RUN_A)
    assert r.code == 0 and r.out == ""
    assert out.read_text().splitlines()[1] == "<stdin>\tall\tP@1\t0.5000"


def test_bad_input_is_one_line_exit_2(cli, files, write):
    q, _, _ = files
    bad = write("bad.run", "1 Q0 a 1 3 A\n1 Q0 b 2 x A\n")
    r = cli("eval", q, bad)
    assert r.code == 2
    assert r.err.strip() == f"llmrank: error: {bad}:2: score: expected a number, got 'x'"
    assert "Traceback" not in r.err


def test_debug_shows_the_exception(cli, files, write):
    from llmrank_cli.errors import InputError
    q, _, _ = files
    with pytest.raises(InputError):
        cli("--debug", "eval", q, write("bad.run", "1 Q0 a 1 x A\n"))


def test_unknown_measure_and_usage_errors(cli, files):
    q, a, _ = files
    assert cli("eval", q, a, "-m", "Nope@3").code == 2
    assert cli("eval").code == 2
    assert cli("eval", q, a, "--format", "yaml").code == 2


def test_validate_findings(cli, write, files):
    q, a, _ = files
    assert cli("validate", a, "--qrels", q).code == 0
    dup = write("dup.run", "1 Q0 a 1 3 A\n1 Q0 a 2 2 A\n")
    r = cli("validate", dup)
    assert r.code == 1 and f"{dup}:2: error: docno a repeated for qid 1" in r.err  # a check found problems
    lines = [f"1 Q0 d{i:02d} {i + 1} {1.0 if i >= 8 else 10 - i} T" for i in range(12)]  # ties across 10
    lines.append("2 Q0 x 2 5 T\n2 Q0 y 1 1 T")  # ranks contradict scores
    r = cli("validate", write("w.run", "\n".join(lines) + "\n"), "--qrels", q)
    assert r.code == 0
    assert "tied scores straddle cutoff 10 in 1 queries (1)" in r.err
    # query 1's tied block is ranked docno-ascending in the file, but ties go docno-descending
    assert "rank column disagrees with the scores in 2 queries (1, 2)" in r.err
    nan = write("nan.run", "1 Q0 a 1 nan A\n")
    assert "non-finite score" in cli("validate", nan).err


def test_fuse_rrf(cli, files, tmp_path):
    _, a, b = files
    out = tmp_path / "f.run"
    assert cli("fuse", a, b, "--method", "rrf", "-o", out).code == 0
    rows = [line.split() for line in out.read_text().splitlines()]
    # query 1: b ranks 2,1 -> 1/62+1/61; a 1,3 -> 1/61+1/63; c 3,2 -> 1/63+1/62
    assert [r[2] for r in rows if r[0] == "1"] == ["b", "a", "c"]
    assert float(rows[0][4]) == pytest.approx(1 / 62 + 1 / 61)
    assert all(float(r[4]) > 0 for r in rows)


def test_convert_round_trip(cli, files, tmp_path):
    _, a, _ = files
    sub, back = tmp_path / "s.csv", tmp_path / "back.run"
    assert cli("convert", a, "--format", "mllm", "--team-id", "T1", "-o", sub).code == 0
    assert sub.read_text().splitlines()[1] == "1,a,1,3.0,T1"
    assert cli("convert", sub, "-o", back).code == 0
    assert back.read_text().splitlines()[0] == "1 Q0 a 1 3 T1"


def test_significance_corrections():
    from llmrank_cli.evaluation.significance import correct, paired_p_value
    p = np.array([0.01, 0.04, 0.03])
    assert correct(p, "bonferroni") == pytest.approx([0.03, 0.12, 0.09])
    assert correct(p, "holm") == pytest.approx([0.03, 0.06, 0.06])
    rng = np.random.default_rng(1)
    base = rng.random(30)
    assert paired_p_value(base + 0.2, base, "permutation", 2000) < 0.01
    assert paired_p_value(base, base, "t") == 1.0


def test_quiet_after_the_command_silences_notes(cli, files, tmp_path, write):
    """`llmrank CMD ... --quiet` as well as `llmrank --quiet CMD ...`; every command takes it."""
    q, a, b = files
    topics = write("t.tsv", "1\tone\n2\ttwo\n")
    for args in (["prepare", "topics", topics, "-o", tmp_path / "t2.tsv"], ["prepare", "qrels", q, "-o", tmp_path / "q"]):
        loud, quiet = cli(*args), cli(*args, "--quiet")
        assert loud.code == quiet.code == 0 and loud.err and not quiet.err
    for args in (["fuse", a, b, "-o", tmp_path / "f.run"], ["convert", a, "--format", "mllm", "-o", tmp_path / "s.csv"],
                 ["eval", q, a], ["merge", a, "-o", tmp_path / "m.run"]):
        quiet = cli(*args, "--quiet")
        assert quiet.code == 0 and quiet.err == ""
    checked = cli("validate", a, "--quiet")  # its findings and count are its output: they stay
    assert checked.code == 0 and "run(s) checked" in checked.err


@pytest.mark.parametrize("bad, problem", [
    ("1 Q0 a 1 3 A\n1 Q0 b 2 nan A\n", ":2: score is NaN for qid 1 docno b"),
    ("1 Q0 a 1 3 A\n1 Q0 a 2 2 A\n", ":2: docno a appears more than once for qid 1"),
    ("", ": the run is empty"),
])
def test_every_command_reading_runs_applies_the_same_contract(cli, files, write, tmp_path, bad, problem):
    """fuse, rerank, merge, convert and eval refuse what trec_eval refuses, with one line
    naming the file (and line), exit 2, and the existing output untouched."""
    q, a, _ = files
    path = write("bad.run", bad)
    out = tmp_path / "out.run"
    out.write_text("earlier result\n")
    for args in (["fuse", a, path, "-o", out], ["merge", path, "-o", out], ["convert", path, "-o", out],
                 ["eval", q, path, "-o", out],
                 ["rerank", "--run", path, "--topics", q, "--corpus", q, "--model", "m", "-o", out]):
        r = cli(*args)
        assert r.code == 2 and r.err.count("\n") == 1 and f"{path}{problem}" in r.err, (args, r.err)
        assert out.read_text() == "earlier result\n"
    assert cli("validate", path).code == 1  # validate reads it, to report the problem


def test_eval_keeps_freed_memory_only_for_large_inputs(write):
    """mallopt is process-wide: applied on glibc for large inputs only, tested in a child process."""
    from llmrank_cli.kit.heap import LARGE, large_input
    small = write("small.run", "1 Q0 a 1 1 t\n")
    assert not large_input([small, "-"])
    with open(small, "ab") as f:
        f.truncate(LARGE)
    assert large_input([small])
    code = "from llmrank_cli.kit.heap import keep_freed_memory; print(keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    import platform
    assert out == ("True" if platform.libc_ver()[0] == "glibc" else "False")


def _options():
    """(command path, option names, help, default) of every visible option of every command."""
    import importlib

    import typer

    from llmrank_cli.cli.app import COMMANDS, app

    for module, _ in COMMANDS.values():
        importlib.import_module(f"llmrank_cli.cli.{module}")

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                if not getattr(sub, "hidden", False):
                    yield from walk(sub, [*path, name])
        else:
            for p in command.params:
                if p.opts[0].startswith("-"):
                    yield " ".join(path), p.opts, p.help or "", p.default

    yield from walk(typer.main.get_command(app), [])


def _default(text: str, default) -> str:
    """An option's default as shown: its own, or (a generated flag is None) the one in its help."""
    if default is None:
        found = re.search(r"\(default: ([^)]*)\)", text)
        return found.group(1) if found else "none"
    return str(default).lower() if isinstance(default, bool) else str(default)


def test_every_option_follows_the_flag_glossary():
    """One meaning per flag: every option that is a glossary term (settings.GLOSSARY, which the
    jobs' and rankers' fields and the other commands' options are declared from) has its meaning
    and its default in every command; the input run is --run, an input's format --input-format,
    --format an output format; old spellings are gone (they still parse, with a note)."""
    from llmrank_cli.cli.options import RENAMED, RENAMED_IN
    from llmrank_cli.settings import GLOSSARY

    found = list(_options())
    assert len({c for c, *_ in found}) > 30
    checked = set()
    for command, names, text, default in found:
        old = set(RENAMED) | set(RENAMED_IN.get(command.split()[0], {}))
        assert not set(names) & old, (command, names)
        if "--format" in names:
            assert "input" not in text.lower(), (command, text)
        if "--run" in names:
            assert "run" in text.lower(), (command, text)
        for name, term in GLOSSARY.items():
            if "--" + name.replace("_", "-") in names:
                meaning = re.sub(r"^--kind [^:]+: ", "", text)
                assert meaning.startswith(term.meaning), (command, names, text)
                if term.default is not None:  # else each command gives its own
                    assert _default(text, default) == _default("", term.default), (command, names, default, text)
                checked.add((command, name))
    assert {n for _, n in checked} == set(GLOSSARY)  # every term is some command's flag
    assert {c for c, n in checked if n == "device"} >= {"rerank", "rank", "train cross-encoder", "cv two-tower-tier1",
                                                         "prepare mllm", "prepare heads"}
    assert {c for c, n, *_ in found if "-o" in n} >= {"eval", "fuse", "convert", "merge", "rerank", "rank"}
    # ten folds everywhere (item cv: the data directory's, from prepare)
    assert {_default(t, d) for _, n, t, d in found if "--folds" in n} == {"10", "the data directory's"}


def test_old_flag_spellings_still_work_with_a_note(cli, write, tmp_path):
    topics = write("t.tsv", "1\tfirst query\n")
    out = tmp_path / "t.out"
    r = cli("prepare", "topics", topics, "--format", "tsv", "-o", out)
    assert r.code == 0 and "--format is now --input-format" in r.err
    assert out.read_text() == "1\tfirst query\n"
    assert "--input-format" in cli("prepare", "topics", "--help").out
    run = write("a.run", RUN_A)
    r = cli("convert", run, "--to", "msmarco", "--from=trec")
    assert r.code == 0 and "--to is now --format" in r.err and "--from is now --input-format" in r.err
    assert r.out == cli("convert", run, "--format", "msmarco", "--input-format", "trec").out


def test_a_full_disk_is_one_line_and_the_old_output_survives(cli, write, tmp_path):
    """Out of space mid-write (a 16 KB tmpfs): one line naming the output, exit 2, the old file as
    it was and no temporary file left. Needs mount (root here and in CI); skipped elsewhere."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        lines = "".join(f"{q} Q0 d{d} {d + 1} {100 - d} A\n" for q in range(20) for d in range(50))
        a, b = write("a.run", lines), write("b.run", lines.replace(" A\n", " B\n"))
        out = small / "out.run"
        out.write_text("old\n")
        r = cli("fuse", a, b, "-o", out)
        assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err
        assert f"{out}: cannot write: No space left on device (the existing file is unchanged)" in r.err
        assert out.read_text() == "old\n" and sorted(p.name for p in small.iterdir()) == ["out.run"]
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.parametrize("command", [
    ["rerank", "--model", "x", "--run", "missing.run", "--topics", "missing.tsv", "--corpus", "missing.jsonl"],
    ["rank", "--model", "x", "--topics", "missing.tsv"],
    ["train", "cross-encoder", "--encoder", "x", "--topics", "missing.tsv", "--qrels", "missing.txt", "--run",
     "missing.run", "--corpus", "missing.jsonl"],
    ["cv", "prior", "--data", "missing.dir"],
    ["prepare", "mllm", "--queries", "missing.tsv", "--qrels", "missing.txt"],
])
@pytest.mark.parametrize("device, problem", [("tpu", "--device must be one of auto, cpu, cuda, mps, not 'tpu'"),
                                             ("cuda", "--device cuda was asked for, but torch sees no CUDA device")])
def test_a_device_is_checked_when_parsed_before_any_file_is_read(cli, tmp_path, monkeypatch, command, device,
                                                                  problem):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    inputs = tmp_path.parent / f"{tmp_path.name}-inputs"  # they exist (else that is the one line) and are empty
    inputs.mkdir()
    for name in command:
        if name.startswith("missing."):
            (inputs / name).touch()
    monkeypatch.chdir(inputs)
    r = cli(*command, "--device", device, "-o", str(tmp_path / "out"))
    assert r.code == 2 and r.err.strip().splitlines() == [f"llmrank: error: {problem}"] and not list(tmp_path.iterdir())


@pytest.mark.parametrize("command, problem", [
    (["rerank", "--model", "x", "--run", "in.run", "--topics", "in.tsv", "--corpus", "in.jsonl", "--kind", "nope"],
     "unknown ranker 'nope'"),
    (["rerank", "--model", "x", "--run", "in.run", "--topics", "in.tsv", "--corpus", "in.jsonl", "--kind", "prior"],
     "--kind prior ranks items, not passages"),
    (["rerank", "--model", "x", "--run", "in.run", "--topics", "in.tsv", "--corpus", "in.jsonl", "--backend", "tpu"],
     "--backend must be one of"),
    (["rank", "--model", "x", "--topics", "in.tsv", "--format", "csv"], "--format must be one of trec, mllm"),
    (["train", "tier1", "--topics", "in.tsv", "--qrels", "in.txt", "--fold", "2"],
     "--fold 2: the prepared data has folds 0 to 1"),
    (["train", "tier1", "--topics", "in.tsv", "--qrels", "in.txt"], "give exactly one of --fold K or --all"),
    (["train", "cross-encoder", "--encoder", "x", "--topics", "in.tsv", "--qrels", "in.txt", "--run", "in.run",
      "--corpus", "in.jsonl", "--eval-topics", "in.tsv"], "evaluation needs --eval-topics, --eval-qrels, --eval-run"),
    (["train", "cross-encoder", "--encoder", "x", "--topics", "in.tsv", "--qrels", "in.txt", "--run", "in.run",
      "--corpus", "gone.jsonl"], "gone.jsonl: no such file (--corpus)"),
    (["cv", "cross-encoder", "--encoder", "x", "--topics", "in.tsv", "--qrels", "in.txt", "--run", "in.run",
      "--corpus", "in.jsonl", "--negatives", "soft"], "--negatives must be one of hard, random"),
    (["prepare", "heads", "--model", "x", "--run", "in.run", "--topics", "in.tsv", "--corpus", "in.jsonl", "--qrels",
      "in.txt", "--state-fraction", "1.5"], "1.5 is not in the range"),
    (["prepare", "mllm", "--queries", "in.tsv", "--qrels", "in.txt", "--metadata", "in.jsonl"],
     "--metadata adds log-probs to the responses of --discovery"),
    (["eval", "in.txt", "in.run", "--by", "in.tsv", "--format", "trec"], "--by prints table, csv, tsv or json"),
    (["eval", "in.txt", "gone.run"], "gone.run: no such file"),
    (["eval", "in.txt", "in.run", "--test", "z"], "--test must be one of t, wilcoxon, permutation"),
])
def test_values_are_checked_when_parsed_before_any_file_is_read(cli, tmp_path, monkeypatch, command, problem):
    """Each bad value is one line (click's usage block for a range) and exit 2 with nothing
    written, from the job's checks: the inputs exist but are empty, so a command that read one
    would fail otherwise."""
    inputs = tmp_path.parent / f"{tmp_path.name}-inputs"
    inputs.mkdir()
    for name in ("in.run", "in.tsv", "in.jsonl", "in.txt"):
        (inputs / name).touch()
    monkeypatch.chdir(inputs)
    r = cli(*command, "-o", str(tmp_path / "out"))
    assert r.code == 2 and len(r.err.strip().splitlines()) in (1, 4) and problem in " ".join(r.err.split()), r.err
    assert not list(tmp_path.iterdir()) and sorted(p.name for p in inputs.iterdir()) == [
        "in.jsonl", "in.run", "in.tsv", "in.txt"]
