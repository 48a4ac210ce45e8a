"""`llmrank eval --format trec --trec-eval V` against trec_eval V itself, for each version llmrank
reproduces (NIST's 9.0.8 and 10.0, pyserini's 10.0-rc2: C sources in ../shared/tools, built
here): line for line, on random qrels/runs and on DL19, for every all_trec measure, parameters in
trec_eval's syntax and each -q/-c/-l/-M combination, through both engines."""
import random
import shutil
import subprocess

import pytest

from llmrank_cli.evaluation import ranked
from llmrank_cli.evaluation.versions import VERSIONS, has_measure

from .conftest import SHARED, shared

FLAGS = [[], ["-c"], ["-l", "2"], ["-M", "5"], ["-c", "-l", "2", "-M", "7"], ["-l", "0"]]
# what a quick eval computes in plain Python (cli/quick.py): these calls take that path
PLAIN_MEASURES = ["-m", "num_q", "-m", "num_ret", "-m", "num_rel", "-m", "num_rel_ret", "-m", "map", "-m", "Rprec",
                  "-m", "recip_rank", "-m", "P.1,3,20", "-m", "recall.2,10", "-m", "ndcg", "-m", "ndcg_cut.3,10",
                  "-m", "map_cut.2,100", "-m", "success.1,5"]
MEASURE_SETS = [PLAIN_MEASURES,
    ["-m", "all_trec"],
    ["-m", "official"],
    ["-m", "ndcg.1=3,2=0.5", "-m", "G.2=1.5,1=1", "-m", "Rndcg.0=1,3=0.2", "-m", "ndcg_rel.1=2.5",
     "-m", "rbp.p=0.7", "-m", "rbp_resid.p=0.5", "-m", "set"],
    ["-m", "iprec_at_recall..10,.25,0.333", "-m", "Rprec_mult.5.0,0.2", "-m", "utility.2,-1,0.5,0",
     "-m", "11pt_avg..25,.5", "-m", "ndcg_cut.3,23.4", "-m", "relstring.4", "-m", "set_F.0.5", "-m", "unj.2,4",
     "-m", "success.2", "-m", "relative_P.3,7", "-m", "P.1", "-m", "map_cut.2,100"],
]


def build_trec_eval(tmp_path_factory, version: str) -> str:
    """The trec_eval binary of ``version``, compiled from NIST's source in ../shared/tools."""
    script = SHARED.parent / "tools" / "build-trec-eval.sh"
    if not script.exists():
        pytest.skip(f"reference trec_eval source not available: {script}")
    if not (shutil.which("cc") and shutil.which("make")):
        pytest.skip("no C compiler (cc) and make to build the reference trec_eval")
    out = tmp_path_factory.mktemp(f"trec_eval-{version}")
    return subprocess.run(["bash", str(script), str(out), version], capture_output=True, text=True,
                          check=True).stdout.strip()


class Oracle:
    """One trec_eval version and its binary; ``run`` calls it, ``ours`` calls llmrank under it."""

    def __init__(self, version: str, binary: str):
        self.version, self.binary = version, binary

    def run(self, *args):
        return subprocess.run([self.binary, *args], capture_output=True, text=True)

    def measures(self, measures: list[str]) -> list[str]:
        """The -m arguments this version has (9.0.8 refuses rbp, rbp_resid and unj)."""
        pairs = [measures[i:i + 2] for i in range(0, len(measures), 2)]
        return [x for flag, m in pairs if has_measure(VERSIONS[self.version], m.split(".")[0]) for x in (flag, m)]


@pytest.fixture(scope="session", params=list(VERSIONS))
def trec_eval(request, tmp_path_factory) -> Oracle:
    return Oracle(request.param, build_trec_eval(tmp_path_factory, request.param))


def stops_without_c(ref) -> bool:
    """trec_eval 10.0 exits 4 when a qrels query has no results and -c is not given."""
    return ref.returncode == 4 and "not found in qrels" in ref.stderr


def _random_files(seed: int, directory, binary: bool):
    """Queries on one side only, ties, docnos numeric and not, graded, negative and missing labels."""
    rng = random.Random(seed)
    qids = list(dict.fromkeys(rng.choice(["1", "2", "10", "22", "3", "101", "7a", "8"]) for _ in range(rng.randint(1, 6))))
    docs = [f"d{i}" if rng.random() < 0.5 else str(i) for i in range(30)]
    top = 1 if binary else rng.choice([2, 3, 4, 12])
    qrels = []
    for q in qids:
        if rng.random() < 0.15 and q != qids[0]:  # the first query is on both sides
            continue
        for k, doc in enumerate(rng.sample(docs, rng.randint(1, 20))):
            # every query keeps a label >= 0: trec_eval 9.0.8 cannot evaluate one without (its exit 4)
            label = rng.choice([0, 1]) if k == 0 else rng.choice([0, 0, 1, -1, -2, top, rng.randint(0, top)])
            qrels.append(f"{q} 0 {doc} {label}\n")
    run = []
    for q in qids + ["999"]:
        if rng.random() < 0.15 and q != qids[0]:
            continue
        lines = [(rng.choice([1.0, 2.0, 0.5, round(rng.random(), 2), rng.random()]), doc)
                 for doc in rng.sample(docs, rng.randint(1, 25))]
        if seed % 2:  # as most runs arrive: scores descending, ties in no particular docno order
            lines.sort(key=lambda line: -line[0])
        run.extend(f"{q} Q0 {doc} 0 {score} tag{seed}\n" for score, doc in lines)
    (directory / "qrels").write_text("".join(qrels))
    (directory / "run").write_text("".join(run))
    return str(directory / "qrels"), str(directory / "run")


def _lines(text: str, skip_rbp: bool) -> list[list[str]]:
    # rbp rescales graded gains with min/max that trec_eval 9.0.8 never initialises (m_rbp.c):
    # its values there depend on stack contents, so only binary labels pin them down.
    return [line.split() for line in text.splitlines() if not (skip_rbp and line.split()[0].startswith("rbp_p")
                                                                or skip_rbp and line.startswith("rbp "))]


@pytest.mark.parametrize("seed", range(24))
def test_random_files_equal_trec_eval_line_for_line(trec_eval, cli, tmp_path, monkeypatch, seed):
    if seed % 4 == 1:  # the labels of large runs come from Arrow's join: take it here too
        monkeypatch.setattr(ranked, "JOIN_ROWS", 0)
    binary = seed % 3 == 0
    qrels, run = _random_files(seed, tmp_path, binary)
    measures = trec_eval.measures(MEASURE_SETS[seed % len(MEASURE_SETS)])
    for flags in FLAGS:
        ref = trec_eval.run("-q", *flags, *measures, qrels, run)
        ours = cli("eval", "--format", "trec", "--trec-eval", trec_eval.version, "-q", *flags, *measures, qrels, run)
        assert ours.code == 0, ours.err
        if stops_without_c(ref):  # llmrank evaluates the queries in both, as the other versions do, and says so
            assert "trec_eval 10.0 stops on such files (exit 4)" in ours.err
            continue
        assert ref.returncode == 0, ref.stderr
        assert _lines(ours.out, not binary) == _lines(ref.stdout, not binary), (flags, measures)


DL_RUNS = [(year, run) for year in ("dl19", "dl20")
           for run in ("bm25-top100", "bm25-rm3-top100", "splade-pp-ed-top100", "tasb-top100")]


@pytest.mark.parametrize("year, run", DL_RUNS)
@pytest.mark.parametrize("flags", [[], ["-c", "-l", "2", "-M", "10"]])
def test_shared_dl_runs_all_trec_equal_trec_eval(trec_eval, cli, year, run, flags):
    d = shared("trec-dl", year)
    args = ["-q", "-m", "all_trec", *flags, str(d / "qrels.txt"), str(d / f"{run}.run")]
    ref = trec_eval.run(*args)
    assert ref.returncode == 0, ref.stderr
    ours = cli("eval", "--format", "trec", "--trec-eval", trec_eval.version, *args)
    assert ours.code == 0, ours.err
    assert _lines(ours.out, False) == _lines(ref.stdout, False)


@pytest.mark.parametrize("flags", FLAGS)
def test_dl19_all_trec_equals_trec_eval(trec_eval, cli, flags):
    d = shared("trec-dl", "dl19")
    args = ["-q", "-m", "all_trec", *flags, str(d / "qrels.txt"), str(d / "bm25-top100.run")]
    ref = trec_eval.run(*args)
    assert ref.returncode == 0, ref.stderr
    ours = cli("eval", "--format", "trec", "--trec-eval", trec_eval.version, *args)
    assert ours.code == 0, ours.err
    assert _lines(ours.out, False) == _lines(ref.stdout, False)


@pytest.mark.parametrize("qrels_text, run_text, named", [
    ("1 0 a 1\n", "", "empty.run"),                   # an empty run
    ("", "1 Q0 a 1 1.0 t\n", "qrels"),                 # an empty qrels file
    ("5 0 a 1\n", "1 Q0 a 1 1.0 t\n", "shares no query"),  # the wrong qrels: no query in common
])
@pytest.mark.parametrize("flags", [[], ["-c"]])
def test_what_trec_eval_refuses_is_refused(trec_eval, cli, tmp_path, qrels_text, run_text, named, flags):
    """One line naming the file(s), exit 2, nothing written; trec_eval refuses the same files (10.0
    alone prints zeros for a run sharing no query under -c: llmrank refuses that too)."""
    (tmp_path / "qrels").write_text(qrels_text)
    (tmp_path / "empty.run").write_text(run_text)
    qrels, run, out = tmp_path / "qrels", tmp_path / "empty.run", tmp_path / "out.txt"
    ref = trec_eval.run(*flags, str(qrels), str(run))
    assert ref.returncode != 0 or (trec_eval.version == "10.0" and flags == ["-c"] and named == "shares no query")
    for fmt in ("trec", "table"):  # the quick path and the full command
        ours = cli("eval", "--format", fmt, "--trec-eval", trec_eval.version, *flags, qrels, run, "-o", out)
        assert ours.code == 2 and named in ours.err and len(ours.err.strip().splitlines()) == 1, ours.err
        assert not out.exists() and not ours.out
    if named == "shares no query":
        assert str(qrels) in ours.err and str(run) in ours.err


def test_default_output_is_trec_evals(trec_eval, cli):
    d = shared("trec-dl", "dl19")
    args = [str(d / "qrels.txt"), str(d / "bm25-top100.run")]
    ref = trec_eval.run(*args)
    assert ref.returncode == 0, ref.stderr
    ref = ref.stdout
    ours = cli("eval", "--format", "trec", "--trec-eval", trec_eval.version, *args)
    assert ours.out.splitlines()[0].split() == ["runid", "all", "bm25"]
    assert _lines(ours.out, False) == _lines(ref, False)
