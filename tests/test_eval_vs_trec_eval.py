"""`llmrank eval --format trec` against the reference trec_eval 9.0.8 (NIST's C source in
../shared/tools, built here): line for line, on random qrels/runs and on DL19, for every
all_trec measure, parameters in trec_eval's syntax and each -q/-c/-l/-M combination."""
import random
import shutil
import subprocess

import pytest

from llmrank_cli.evaluation import ranked

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


@pytest.fixture(scope="session")
def trec_eval(tmp_path_factory):
    script = SHARED.parent / "tools" / "build-trec-eval.sh"
    if not script.exists():
        pytest.skip(f"reference trec_eval source not available: {script}")
    if not (shutil.which("cc") and shutil.which("make")):
        pytest.skip("no C compiler (cc) and make to build the reference trec_eval")
    out = tmp_path_factory.mktemp("trec_eval")
    return subprocess.run(["bash", str(script), str(out)], capture_output=True, text=True, check=True).stdout.strip()


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
    measures = MEASURE_SETS[seed % len(MEASURE_SETS)]
    for flags in FLAGS:
        ref = subprocess.run([trec_eval, "-q", *flags, *measures, qrels, run], capture_output=True, text=True)
        assert ref.returncode == 0, ref.stderr
        ours = cli("eval", "--format", "trec", "-q", *flags, *measures, qrels, run)
        assert ours.code == 0, ours.err
        assert _lines(ours.out, not binary) == _lines(ref.stdout, not binary), (flags, measures)


DL_RUNS = [(year, run) for year in ("dl19", "dl20")
           for run in ("bm25-top100", "bm25-rm3-top100", "splade-pp-ed-top100", "tasb-top100")]


@pytest.mark.parametrize("year, run", DL_RUNS)
@pytest.mark.parametrize("flags", [[], ["-c", "-l", "2", "-M", "10"]])
def test_shared_dl_runs_all_trec_equal_trec_eval(trec_eval, cli, year, run, flags):
    d = shared("trec-dl", year)
    args = [*flags, str(d / "qrels.txt"), str(d / f"{run}.run")]
    ref = subprocess.run([trec_eval, "-q", "-m", "all_trec", *args], capture_output=True, text=True, check=True)
    ours = cli("eval", "--format", "trec", "-q", "-m", "all_trec", *args)
    assert ours.code == 0, ours.err
    assert _lines(ours.out, False) == _lines(ref.stdout, False)


@pytest.mark.parametrize("flags", FLAGS)
def test_dl19_all_trec_equals_trec_eval(trec_eval, cli, flags):
    d = shared("trec-dl", "dl19")
    args = [*flags, str(d / "qrels.txt"), str(d / "bm25-top100.run")]
    ref = subprocess.run([trec_eval, "-q", "-m", "all_trec", *args], capture_output=True, text=True, check=True)
    ours = cli("eval", "--format", "trec", "-q", "-m", "all_trec", *args)
    assert ours.code == 0, ours.err
    assert _lines(ours.out, False) == _lines(ref.stdout, False)


def test_empty_run_is_refused_like_trec_eval(trec_eval, cli, write):
    qrels, run = write("qrels", "1 0 a 1\n"), write("empty.run", "")
    assert subprocess.run([trec_eval, qrels, run], capture_output=True).returncode != 0
    ours = cli("eval", "--format", "trec", qrels, run)
    assert ours.code == 2 and "empty.run" in ours.err and not ours.out


def test_default_output_is_trec_evals(trec_eval, cli):
    d = shared("trec-dl", "dl19")
    args = [str(d / "qrels.txt"), str(d / "bm25-top100.run")]
    ref = subprocess.run([trec_eval, *args], capture_output=True, text=True, check=True).stdout
    ours = cli("eval", "--format", "trec", *args)
    assert ours.out.splitlines()[0].split() == ["runid", "all", "bm25"]
    assert _lines(ours.out, False) == _lines(ref, False)
