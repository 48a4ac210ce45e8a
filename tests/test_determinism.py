"""Same seed, same threads -> same bytes: every item ranker, the cross-encoder, the list language
ranker and the RouteHead router (on heads a tiny LM wrote in the same process), trained in two
fresh processes on the same data, write the same weights and rank into the same run, byte for
byte; a third process with another thread count matches too, except the kinds docs/rankers.md
names (their float reductions split by thread), whose manifests record the count."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ITEM_KINDS = ("prior", "random", "knn", "ltr", "profile", "two-tower-baseline", "two-tower-tier1", "two-tower-tier2",
              "lt-ttd", "llm-cross-encoder")
THREAD_DEPENDENT = {"lt-ttd", "llm-cross-encoder", "cross-encoder", "language-ranker-list"}  # as docs/rankers.md#determinism says
VOLATILE = {"created", "command"}  # manifest fields that name the call, not the model
TIMING = ("_runtime", "_per_second")  # the HF Trainer's log of how long it took
# Files that name the call rather than the model: Lucene's random segment id in every index file
# (profile's index is compared by its run), the model card sentence-transformers writes with the
# training time, and the Trainer's pickled arguments with the output directory.
CALL_FILES = ("segments_", "_0", "README.md", "training_args.bin")
SAMPLE = Path(__file__).resolve().parents[1] / "llmrank_cli" / "sample" / "passages"

TRAIN = """
import sys, llmrank
from llmrank_cli.cli import main
data, topics, tiny, lm, out, *kinds = sys.argv[1:]
for kind in kinds:
    epochs = {"epochs": 1} if kind == "llm-cross-encoder" else {}
    model = llmrank.train(kind, data=data, all_=True, output=f"{out}/{kind}", **epochs)
    llmrank.rank(model=str(model), topics=topics, output=f"{out}/{kind}.run")
s = "SAMPLE"
passages = dict(topics=f"{s}/topics.tsv", corpus=f"{s}/corpus.jsonl")
model = llmrank.train("cross-encoder", encoder=tiny, qrels=f"{s}/qrels.txt", run=f"{s}/bm25.run", epochs=1,
                      output=f"{out}/cross-encoder", **passages)
llmrank.rerank(run=f"{s}/bm25.run", model=str(model), kind="cross", depth=10, output=f"{out}/cross-encoder.run",
               **passages)
model = llmrank.train("language-ranker-list", lm=lm, qrels=f"{s}/qrels.txt", run=f"{s}/bm25.run", depth=10, all_=True,
                      output=f"{out}/language-ranker-list", **passages)
llmrank.rerank(run=f"{s}/bm25.run", model=str(model), kind="language-ranker", depth=10,
               output=f"{out}/language-ranker-list.run", **passages)
candidates = ["--run", f"{s}/bm25.run", "--topics", f"{s}/topics.tsv", "--corpus", f"{s}/corpus.jsonl"]
assert main(["--quiet", "prepare", "heads", "--model", lm, *candidates, "--qrels", f"{s}/qrels.txt", "--window", "4",
             "-o", f"{out}/heads"]) == 0
model = llmrank.train("routehead", data=f"{out}/heads", max_heads=2, epochs=20, output=f"{out}/routehead")
assert main(["--quiet", "rerank", "--kind", "icr", "--model", lm, "--router", str(model), *candidates, "--depth", "4",
             "--window", "4", "-o", f"{out}/routehead.run"]) == 0
""".replace("SAMPLE", str(SAMPLE))
PASSAGE_KINDS = ("cross-encoder", "language-ranker-list", "routehead")


def _comparable(value, threads: bool):
    """A JSON value less what names the call: the manifest's time and command, the Trainer's
    timings (and, unless ``threads``, the thread count)."""
    if isinstance(value, list):
        return [_comparable(v, threads) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: _comparable(v, threads) for k, v in value.items()
            if k not in VOLATILE and not k.endswith(TIMING) and (threads or k != "threads")}


def _differences(a: Path, b: Path, kind: str, threads: bool = True) -> list[str]:
    """The files of ``kind``'s model directory and run that differ between ``a`` and ``b``."""
    out = []
    for f in sorted(p for p in (a / kind).rglob("*") if p.is_file()):
        g = b / kind / f.relative_to(a / kind)
        if f.name.startswith(CALL_FILES):
            continue
        if f.suffix == ".json":  # paths inside the process's own output directory (data made there) compare alike
            same = _comparable(json.loads(f.read_text().replace(str(a), "OUT")), threads) == \
                _comparable(json.loads(g.read_text().replace(str(b), "OUT")), threads)
        else:
            same = f.read_bytes() == g.read_bytes()
        if not same:
            out.append(str(f.relative_to(a)))
    if (a / f"{kind}.run").read_bytes() != (b / f"{kind}.run").read_bytes():
        out.append(f"{kind}.run")
    return out


@pytest.fixture(scope="module")
def trained(llm_sample, tiny_cross_encoder, tiny_lm, tmp_path_factory):
    """Three fresh processes, at once: A and B with 2 threads, C with 1."""
    root = tmp_path_factory.mktemp("determinism")
    args = [str(p) for p in (llm_sample / "data", llm_sample / "s" / "llm" / "topics.tsv", tiny_cross_encoder, tiny_lm)]
    procs = {name: subprocess.Popen([sys.executable, "-c", TRAIN, *args, str(root / name), *ITEM_KINDS],
                                    env={**os.environ, "OMP_NUM_THREADS": threads}, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
             for name, threads in (("A", "2"), ("B", "2"), ("C", "1"))}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}: {err[-2000:]}"
    return root


@pytest.mark.parametrize("kind", [*ITEM_KINDS, *PASSAGE_KINDS])
def test_same_seed_and_threads_give_the_same_bytes(trained, kind):
    assert _differences(trained / "A", trained / "B", kind) == []


@pytest.mark.parametrize("kind", [*ITEM_KINDS, *PASSAGE_KINDS])
def test_another_thread_count_matches_or_the_kind_says_it_does_not(trained, kind):
    differ = _differences(trained / "A", trained / "C", kind, threads=False)
    if kind in THREAD_DEPENDENT:
        assert json.loads((trained / "C" / kind / "model.json").read_text())["versions"]["threads"] == 1
        assert differ, f"{kind} now matches across thread counts: take it out of THREAD_DEPENDENT and the docs"
    else:
        assert differ == []
