"""Scoring over processes with an existing launcher: `torchrun --nproc_per_node 2` (gloo, CPU)
makes each process score its share of chunks and rank 0 write the one run, byte-identical to
one process."""
import json
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


def test_torchrun_trains_a_cross_encoder_with_ddp(tiny_cross_encoder, tmp_path, cli):
    """The Hugging Face Trainer path under torchrun: two processes share each step's batch, rank 0
    alone evaluates, writes the model, its logs and manifest, and speaks."""
    from .test_train_cross_encoder import SAMPLE as s
    out = tmp_path / "m"
    r = _torchrun("train", "cross-encoder", "--encoder", tiny_cross_encoder, "--topics", s / "topics.tsv", "--qrels",
                  s / "qrels.txt", "--run", s / "bm25.run", "--corpus", s / "corpus.jsonl", "--eval-topics",
                  s / "topics.tsv", "--eval-qrels", s / "qrels.txt", "--eval-run", s / "bm25.run", "--epochs", "2",
                  "--lr", "1e-3", "--warmup-steps", "0", "--max-length", "64", "--batch-size", "8",
                  "--negatives-per-positive", "2", "--rel-level", "2", "--device", "cpu", "-o", out)
    assert r.returncode == 0, [line for line in r.stderr.splitlines() if "error" in line][:3]
    assert r.stderr.count("training on 180 positives") == 1 and r.stderr.count("model written to") == 1
    manifest = json.loads((out / "model.json").read_text())["config"]
    assert manifest["processes"] == 2 and len(manifest["epochs"]) == 2
    assert sorted(p.name for p in (out / "eval").iterdir()) == ["epoch-1.run", "epoch-2.run"]
    assert cli("--quiet", "rerank", "--run", s / "bm25.run", "--topics", s / "topics.tsv", "--corpus",
               s / "corpus.jsonl", "--model", out, "-o", tmp_path / "r.run").code == 0


LOOP = """
import sys, torch
from llmrank_cli.training.loop import LoopFields, seeded, train_epochs
from llmrank_cli.kit.devices import launched
generator = seeded(0)
x, y = torch.randn(37, 5), torch.randn(37)
net = torch.nn.Linear(5, 1)
loss = lambda idx, epoch: ((net(x[idx]).squeeze(-1) - y[idx]) ** 2).mean()
train_epochs(net, net.parameters(), 37, loss, LoopFields(epochs=3, batch_size=8, lr=0.05, weight_decay=0.0, optimizer=sys.argv[2]), generator)
if launched()[0] == 0:
    torch.save(net.state_dict(), sys.argv[1])
"""


@pytest.mark.parametrize("optimizer", ["adamw", "lion"])
def test_small_loop_under_torchrun_steps_with_the_whole_batch_gradient(tmp_path, optimizer):
    """Two processes, each with every other example of a batch (uneven shares in the last
    batch of 5), end with the weights one process reaches."""
    import torch
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, script, tmp_path / "one.pt", optimizer], check=True, env=env)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", script,
                    tmp_path / "two.pt", optimizer], check=True, env=env, capture_output=True)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert all(torch.allclose(one[k], two[k], atol=1e-6) for k in one)
    assert not torch.allclose(one["weight"], torch.nn.Linear(5, 1).weight, atol=1e-3)  # it trained


def test_torchrun_trains_and_cross_validates_an_item_ranker(llm_sample, tmp_path, cli):
    model, cv = tmp_path / "m", tmp_path / "cv"
    r = _torchrun("train", "tier2", "--data", llm_sample / "data", "--all", "--epochs", "3", "-o", model)
    assert r.returncode == 0, [line for line in r.stderr.splitlines() if "rror" in line][:4]
    assert r.stderr.count("model written to") == 1
    assert json.loads((model / "model.json").read_text())["processes"] == 2
    r = _torchrun("cv", "tier2", "--data", llm_sample / "data", "--epochs", "3", "-o", cv)
    assert r.returncode == 0, [line for line in r.stderr.splitlines() if "rror" in line][:4]
    assert r.stdout.count("95% CI") == 1  # rank 0 alone prints the table
    assert len({line.split()[0] for line in (cv / "two-tower-tier2.run").read_text().splitlines()}) == 30
    assert cli("--quiet", "rank", "--model", model, "--topics", llm_sample / "s" / "llm" / "topics.tsv").code == 0
