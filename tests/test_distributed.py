"""Scoring over processes with an existing launcher: `torchrun --nproc_per_node 2` (gloo, CPU)
makes each process score its share of chunks and rank 0 write the one run, byte-identical to
one process."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

from .test_rerank import CORPUS, RUN, TOPICS  # noqa: E402


def _one_process(*argv) -> subprocess.CompletedProcess:
    """The same job in one process, with the same thread count (threads change float sums)."""
    return subprocess.run([sys.executable, "-m", "llmrank_cli", *map(str, argv)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)


def _torchrun(*argv) -> subprocess.CompletedProcess:
    """`torchrun ... -m llmrank_cli -- ARGV`: the `--` keeps torchrun from reading `--run` as its `--run-path`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "llmrank_cli", "--", *map(str, argv)], capture_output=True, text=True, env=env, timeout=600)


def test_torchrun_rerank_equals_one_process(cli, write, tiny_cross_encoder, tmp_path):
    job = ["--run", write("c.run", RUN), "--topics", write("t.tsv", TOPICS), "--corpus", write("c.jsonl", CORPUS),
           "--model", tiny_cross_encoder, "--chunk-pairs", "1", "--device", "cpu"]
    one, two = tmp_path / "one.run", tmp_path / "two.run"
    assert _one_process("--quiet", "rerank", *job, "-o", one).returncode == 0
    r = _torchrun("rerank", *job, "-o", two)
    assert r.returncode == 0, r.stderr[-2000:]
    assert two.read_bytes() == one.read_bytes()
    assert r.stderr.count("reranked 18 pairs of 3 queries") == 1  # rank 0 reports the whole job
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("two")) == ["two.run",
                                                                                      "two.run.manifest.json"]


def test_torchrun_rank_with_an_item_ranker_equals_one_process(cli, llm_sample, tmp_path):
    model = tmp_path / "tier2"
    assert cli("--quiet", "train", "tier2", "--data", llm_sample / "data", "--all", "--epochs", "3",
               "-o", model).code == 0
    topics = llm_sample / "s" / "llm" / "topics.tsv"
    one, two = tmp_path / "one.run", tmp_path / "two.run"
    chunks = ("--chunk-pairs", "100")  # 30 queries x 12 items: 4 chunks, 2 per process
    assert _one_process("--quiet", "rank", "--model", model, "--topics", topics, *chunks, "-o", one).returncode == 0
    r = _torchrun("--quiet", "rank", "--model", model, "--topics", topics, *chunks, "-o", two)
    assert r.returncode == 0, r.stderr[-2000:]
    assert two.read_bytes() == one.read_bytes()
