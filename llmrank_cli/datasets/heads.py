"""Per-head ICR scores of each topic's first-stage window (``prepare heads``): what RouteHead
learns from and is evaluated on, without running the LM again.

A heads directory holds ``heads.npz`` (S float32 [queries, window, layers x heads], 0 where a
query has fewer candidates; the query states [queries, hidden]), ``heads.json`` (the LM, its
layers and heads, the state layer, the window, and per query its window and the rest of its
run in order) and ``qrels.txt``. Each finished query is kept in ``queries/`` until the whole
directory is written, so an interrupted ``prepare heads`` continues where it stopped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LlmrankError
from ..evaluation.dcg import dcg, ideal_dcg
from ..formats.io import atomic_output


@dataclass
class HeadsData:
    path: Path
    meta: dict
    qids: list[str]
    top: list[list[str]]     # each query's window, first-stage order
    rest: list[list[str]]    # the rest of its run, in order
    scores: np.ndarray       # float64 [queries, window, heads]
    states: np.ndarray       # float32 [queries, hidden]
    gains: np.ndarray        # float64 [queries, window]: the judged label (>= 0) of each candidate
    ideal: np.ndarray        # float64 [queries]: ideal DCG@10 over every judged document
    rest_gains: list         # per query, the labels of the first 10 below its window

    def ndcg(self, q: int, scores: np.ndarray) -> float:
        """nDCG@10 (trec_eval's: linear gains, the ideal over all judged documents) of query ``q``
        with its window ordered by ``scores`` (ties in first-stage order) and the rest below."""
        n = len(self.top[q])
        order = np.argsort(-scores[:n], kind="stable")
        found = float(dcg(np.concatenate([self.gains[q, order], self.rest_gains[q]])))
        return found / self.ideal[q] if self.ideal[q] > 0 else 0.0


def prepare_heads(icr, queries, texts: dict, qrels_path: str, out: str, state_layer: int, progress=None) -> Path:
    """``queries``: pipelines.score.Query objects (their top is the window); ``texts``: id -> passage."""
    from ..formats import read_qrels, write_qrels

    out_dir = Path(out)
    done_dir = out_dir / "queries"
    done_dir.mkdir(parents=True, exist_ok=True)
    lm = icr.lm.config
    n_heads = lm.num_hidden_layers * lm.num_attention_heads
    meta = {"lm": icr.model_name, "layers": lm.num_hidden_layers, "heads": lm.num_attention_heads,
            "hidden": lm.hidden_size, "state_layer": state_layer, "window": icr.settings.window,
            "max_length": icr.max_length}
    stamp = done_dir / "settings.json"
    if stamp.exists() and json.loads(stamp.read_text()) != meta:
        raise LlmrankError(f"{done_dir} holds queries of another prepare heads (LM or window): delete it")
    stamp.write_text(json.dumps(meta))
    window = icr.settings.window
    scores = np.zeros((len(queries), window, n_heads), dtype=np.float32)
    states = np.zeros((len(queries), lm.hidden_size), dtype=np.float32)
    for i, q in enumerate(queries):
        path = done_dir / f"{i}.npz"
        if path.exists():
            saved = np.load(path)
            s, state = saved["scores"], saved["state"]
        else:
            s, state = icr.head_scores(q.text, [texts[d] for d in q.top], state_layer)
            with atomic_output(path, "wb") as f:
                np.savez(f, scores=s, state=state)
        scores[i, :len(s)], states[i] = s, state
        if progress:
            progress.advance(1)
    qrels = read_qrels(qrels_path)
    write_qrels(qrels, out_dir / "qrels.txt")
    with atomic_output(out_dir / "heads.npz", "wb") as f:
        np.savez(f, scores=scores, states=states)
    with atomic_output(out_dir / "heads.json") as f:
        json.dump({**meta, "queries": [{"qid": q.qid, "top": q.top, "rest": q.rest} for q in queries]}, f)
    import shutil

    shutil.rmtree(done_dir, ignore_errors=True)
    return out_dir


def load_heads(path: str) -> HeadsData:
    from ..formats import read_qrels

    d = Path(path)
    if not (d / "heads.json").exists():
        raise LlmrankError(f"{d}: not a heads directory (no heads.json); make one with `llmrank prepare heads`")
    meta = json.loads((d / "heads.json").read_text())
    arrays = np.load(d / "heads.npz")
    judged: dict[str, dict[str, int]] = {}
    table = read_qrels(d / "qrels.txt").table
    for q, doc, rel in zip(*(table[c].to_pylist() for c in ("qid", "docno", "rel"))):
        judged.setdefault(q, {})[doc] = max(rel, 0)
    queries = meta.pop("queries")
    qids = [q["qid"] for q in queries]
    gains = np.zeros(arrays["scores"].shape[:2])
    for i, q in enumerate(queries):
        gains[i, :len(q["top"])] = [judged.get(q["qid"], {}).get(d, 0) for d in q["top"]]
    rest = [np.array([judged.get(q["qid"], {}).get(d, 0) for d in q["rest"][:10]], dtype=np.float64)
            for q in queries]
    return HeadsData(d, meta, qids, [q["top"] for q in queries], [q["rest"] for q in queries],
                     arrays["scores"].astype(np.float64), arrays["states"], gains,
                     np.array([ideal_dcg(list(judged.get(q, {}).values())) for q in qids]), rest)


def greedy_heads(data: HeadsData, q: int, max_heads: int) -> list[int]:
    """Forward selection: add the head that most raises the query's nDCG@10 of the summed
    scores (from the first-stage order's), while one does, up to ``max_heads`` (the query's
    pseudo label; empty when no head improves on the first stage)."""
    chosen: list[int] = []
    total = np.zeros(data.scores.shape[1])
    best = data.ndcg(q, total)
    while len(chosen) < max_heads:
        gains = [data.ndcg(q, total + data.scores[q, :, h]) if h not in chosen else -1.0
                 for h in range(data.scores.shape[2])]
        h = int(np.argmax(gains))
        if gains[h] <= best:
            break
        chosen.append(h)
        total += data.scores[q, :, h]
        best = gains[h]
    return chosen
