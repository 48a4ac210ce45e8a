"""``language-ranker-list`` and ``language-ranker-point`` (Language Ranker, arXiv 2510.21883):
tiny rankers on a frozen causal LM's hidden states pick the best of a query's candidates, as a
recommender's ranking stage does.

Features (``kit/lm_states.py``): the last-token state, at layer round(0.6 L), of the query's
prompt (``i``) and of the prompt followed by each candidate as the assistant's turn (``r_k``).
``Proj`` (one shared linear layer to 64 dims) maps both. The list ranker runs a transformer
block (no positions: a set) over [Proj(i), Proj(r_1..r_K)]; the point ranker runs a shared MLP
block on Proj(i) and on each Proj(r_k) alone. ``Rele`` scores each candidate against the
instruction: a scaled cosine for binary labels, W.[i; r_k] for graded ones.

Training samples ``--groups-per-query`` groups of ``--group-size`` candidates from each training
query's pool (binary: each with a positive and a negative). Losses: list + binary, KL(y / sum y
|| softmax(s)); point + binary, BCE on sigmoid(s); graded labels (raw scores when the data has
them, else gains), MSE. Candidates are LLM answers (``prepare items --responses``) or a run's
passages (``--run RUN --corpus FILE``); `rerank --kind language-ranker --model DIR`
scores any run's passages with a model trained on passages (``language-ranker`` takes
either kind's directory).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LlmrankError
from . import register
from .base import ItemRanker, LoopFields, Runtime, setting, term


@dataclass
class LanguageRankerSettings(LoopFields):
    lm: str = setting("smollm2-135m", "Frozen causal LM whose hidden states are the features (hub id, directory, "
                                      "or smollm2-135m offline).")
    layer_fraction: float = setting(0.6, "Depth of the states read: layer round(f x L), f in (0, 1].")
    max_length: int = setting(256, "Token limit of a candidate text.", min=8)
    dim: int = setting(64, "Size of Proj, the shared linear layer on the LM states.", min=1)
    normalize: bool = setting(True, "Standardise each LM state (a LayerNorm without parameters) before Proj: "
                                    "middle-layer states carry a few huge outlier dimensions.")
    blocks: int = setting(1, "Transformer blocks (list) or MLP blocks (point).", min=1)
    heads: int = setting(4, "Attention heads of a list block.", min=1)
    instruction: bool = setting(True, "Read the instruction's state i (--no-instruction: a learned vector instead, "
                                      "the seed's ablation).")
    labels: str = setting("binary", "binary (label >= --rel-level; cosine Rele; KL or BCE) or graded (the raw "
                                    "score, else the gain; W.[i; r] Rele; MSE).", choices=("binary", "graded"))
    rel_level: int = term("rel_level", ": with binary labels, the lowest positive (2 for TREC DL).", min=0)
    group_size: int = setting(0, "Candidates per training group (0: a query's whole pool).", min=0)
    groups_per_query: int = setting(8, "Groups sampled from each training query's pool.", min=1)
    dropout: float = setting(0.1, "Dropout in the blocks.", min=0.0)
    epochs: int = setting(1, "Training epochs.", min=1)
    batch_size: int = setting(256, "Groups per batch.", min=1)
    lr: float = setting(1e-3, "Learning rate.", min=0.0)
    weight_decay: float = setting(1e-4, "Weight decay.", min=0.0)

    def check(self) -> None:
        from ..kit.lm_states import state_layer

        super().check()
        state_layer(self.layer_fraction, 1)


def build_network(s, hidden: int, kind: str):
    import math

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        """The point ranker's block: x + MLP(LayerNorm(x)), per vector."""

        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.LayerNorm(s.dim), nn.Linear(s.dim, s.dim), nn.GELU(), nn.Dropout(s.dropout),
                                     nn.Linear(s.dim, s.dim))

        def forward(self, x):
            return x + self.net(x)

    class LanguageRankerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Sequential(nn.LayerNorm(hidden, elementwise_affine=False), nn.Linear(hidden, s.dim)) \
                if s.normalize else nn.Linear(hidden, s.dim)
            self.query = None if s.instruction else nn.Parameter(torch.randn(s.dim) * 0.02)
            if kind == "list":
                layer = nn.TransformerEncoderLayer(s.dim, s.heads, 4 * s.dim, s.dropout, batch_first=True,
                                                   norm_first=True)
                self.blocks = nn.TransformerEncoder(layer, s.blocks, enable_nested_tensor=False)
            else:
                self.blocks = nn.Sequential(*(Block() for _ in range(s.blocks)))
            if s.labels == "binary":
                self.log_scale, self.bias = nn.Parameter(torch.tensor(math.log(10.0))), nn.Parameter(torch.zeros(()))
            else:
                self.rele = nn.Linear(2 * s.dim, 1)

        def forward(self, i, r, valid=None):
            """Scores [batch, K] of candidate states r [batch, K, hidden] for instruction states
            i [batch, hidden]; ``valid`` [batch, K] marks real candidates (the rest are padding)."""
            q = self.proj(i) if self.query is None else self.query.expand(len(r), -1)
            c = self.proj(r)
            if kind == "list":
                pad = None if valid is None else torch.cat([torch.zeros_like(valid[:, :1]), ~valid], dim=1)
                x = self.blocks(torch.cat([q[:, None], c], dim=1), src_key_padding_mask=pad)
                q, c = x[:, 0], x[:, 1:]
            else:
                q, c = self.blocks(q), self.blocks(c)
            if s.labels == "binary":
                return F.cosine_similarity(q[:, None], c, dim=-1) * self.log_scale.exp() + self.bias
            return self.rele(torch.cat([q[:, None].expand_as(c), c], dim=-1))[..., 0]

    return LanguageRankerNet()


@dataclass
class PoolStates:
    """LM states of a data directory's pools: ``i`` float32 [queries, hidden]; per query its
    items' indices and their states [pool, hidden]."""

    i: np.ndarray
    pools: list[np.ndarray]
    r: list[np.ndarray]


_STATES: dict = {}


def pool_states(data, states, progress_quiet: bool = True) -> PoolStates:
    """The states of every query's pool in ``data`` (through the disk cache; kept in memory for
    the folds of a CV, one data directory at a time)."""
    from ..progress import Progress

    key = (str(data.path), data.meta["fingerprint"], states.key)
    if key not in _STATES:
        pools = data.pools()
        bar = Progress(f"LM states ({states.lm_name}, layer {states.layer})", progress_quiet, unit="queries")
        bar.start(len(pools))
        try:
            got = states.states_many([(data.texts[q], texts) for q, (_, texts) in enumerate(pools)], bar.advance)
        finally:
            bar.close()
        i = np.stack([i for i, _ in got]) if got else np.zeros((0, states.hidden), dtype=np.float32)
        r = [rows for _, rows in got]
        _STATES.clear()
        _STATES[key] = PoolStates(i, [idx for idx, _ in pools], r)
    return _STATES[key]


class LanguageRanker(ItemRanker):
    """Trains on an item data directory's candidate texts; scores texts (`rerank --model DIR`).
    Its two registered kinds differ in the network's head and loss (``kind``)."""

    kind: str = ""
    Settings = LanguageRankerSettings
    candidates = "passages"
    net = None
    truncated = 0  # the LM states' own cut (--max-length) is a setting, not counted
    model_name = ""  # the directory `open` read

    def __init__(self, settings=None, runtime: Runtime = Runtime()):
        super().__init__(settings, runtime)
        self.lm_info: dict = {}  # the LM, layer and key of the states it was trained on
        self.prior: list[float] = []  # mean training label per item: the prior baseline of the report
        self._lm_states = None
        self.scoring_batch = 256  # candidates in one forward pass of the LM (rerank's --batch-size)

    def lm_states(self):
        from ..kit.devices import place
        from ..kit.lm_states import LmStates

        if self._lm_states is None:
            s = self.settings
            device, dtype = place(self.runtime)
            self._lm_states = LmStates(s.lm, s.layer_fraction, device, dtype, s.max_length,
                                       batch_size=self.scoring_batch)
            info = self.lm_info
            if info and info["lm_key"] != self._lm_states.key:
                raise LlmrankError(f"this model was trained on the states of {info['lm']} (key {info['lm_key']}) at "
                                   f"layer {info['layer']}; {s.lm} here gives other states (key {self._lm_states.key})")
        return self._lm_states

    def labels(self, data) -> np.ndarray:
        """float32 [queries, items]: what training fits and the report reads (raw scores for
        graded labels when the data has them, else gains)."""
        if self.settings.labels == "graded" and data.scores is not None:
            return np.nan_to_num(data.scores, nan=0.0)
        return data.gains

    def fit(self, data, train: np.ndarray, seed: int = 0, progress=None) -> "LanguageRanker":
        import torch

        from ..training.loop import seeded, train_epochs

        s = self.settings
        self.items, self.encoder = list(data.items), data.meta["encoder"]
        states = pool_states(data, self.lm_states(), progress is None or progress.quiet)
        self.lm_info, self.input_dim = self._lm_states.manifest(), states.i.shape[1]
        labels = self.labels(data)
        raw = data.scores if (s.labels == "graded" and data.scores is not None) else data.gains
        self.prior = np.nan_to_num(np.nanmean(raw[train], axis=0)).astype(float).tolist()
        generator = seeded(seed)
        queries, groups = self._groups(states, labels, train, np.random.default_rng(seed))
        offsets = np.cumsum([0] + [len(r) for r in states.r])
        flat_r = torch.as_tensor(np.concatenate(states.r), dtype=torch.float32)
        flat_y = torch.as_tensor(np.concatenate([labels[q, idx] for q, idx in enumerate(states.pools)]),
                                 dtype=torch.float32)
        rows = torch.as_tensor(offsets[queries][:, None] + groups)  # [groups, K] rows of flat_r
        i = torch.as_tensor(states.i[queries])
        self.net = build_network(s, self.input_dim, self.kind)
        loss_of = self._loss

        def loss(idx, epoch):
            y = flat_y[rows[idx]]
            return loss_of(self.net(i[idx], flat_r[rows[idx]]), y)

        train_epochs(self.net, self.net.parameters(), len(rows), loss, s, generator, "cpu", None,
                     progress, self.watch)
        self.net.eval()
        return self

    def _groups(self, states: PoolStates, labels: np.ndarray, train: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        """(query of each group, positions in that query's pool [groups, K])."""
        s = self.settings
        smallest = min(len(states.pools[q]) for q in train)
        k = s.group_size or smallest
        if k > smallest:
            raise LlmrankError(f"--group-size {k} is above the smallest training pool ({smallest} candidates)")
        if k < 2:
            raise LlmrankError("a training group needs at least 2 candidates")
        queries, groups = [], []
        for q in train:
            y = labels[q, states.pools[q]]
            positive = np.flatnonzero(y >= s.rel_level) if s.labels == "binary" else np.arange(len(y))
            negative = np.flatnonzero(y < s.rel_level) if s.labels == "binary" else np.arange(len(y))
            if s.labels == "binary" and (len(positive) == 0 or len(negative) == 0):
                continue  # no positive or no negative: nothing to rank apart
            for _ in range(s.groups_per_query):
                first = [rng.choice(positive), rng.choice(negative)] if s.labels == "binary" else []
                rest = np.setdiff1d(np.arange(len(y)), first)
                groups.append(np.r_[first, rng.choice(rest, k - len(first), replace=False)].astype(np.int64))
                queries.append(q)
        if not groups:
            raise LlmrankError("no training query has both a positive and a negative candidate "
                               f"(binary labels: label >= --rel-level {s.rel_level:g})")
        return np.array(queries), np.stack(groups)

    def _loss(self, scores, y):
        import torch.nn.functional as F

        if self.settings.labels == "graded":
            return F.mse_loss(scores, y)
        positive = (y >= self.settings.rel_level).float()
        if self.kind == "list":
            target = positive / positive.sum(dim=1, keepdim=True)
            return -(target * F.log_softmax(scores, dim=1)).sum(dim=1).mean()
        return F.binary_cross_entropy_with_logits(scores, positive)

    def score_states(self, i: np.ndarray, r: np.ndarray) -> np.ndarray:
        """float64 scores of one query's candidates from their states."""
        import torch

        if len(r) == 0:
            return np.zeros(0)
        with torch.inference_mode():
            return self.net(torch.as_tensor(i[None]), torch.as_tensor(r[None]))[0].double().numpy()

    def held_out_scores(self, data, idx: np.ndarray) -> np.ndarray:
        """Scores of the queries ``idx``: each query's pool; items outside it -inf (left out of runs)."""
        states = pool_states(data, self.lm_states())
        out = np.full((len(idx), len(data.items)), -np.inf)
        for row, q in enumerate(idx):
            out[row, states.pools[q]] = self.score_states(states.i[q], states.r[q])
        return out

    def held_out_report(self, data, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per query, the label of the top candidate (the seed's measure: raw scores where the
        data has them, else gains) for this model, the prior (best mean training label), a
        random pick (the pool's mean) and the oracle."""
        states = pool_states(data, self.lm_states())
        raw = data.scores if data.scores is not None else data.gains
        prior = np.array(self.prior)
        out = {k: np.zeros(len(idx)) for k in ("top1_label", "prior_top1_label", "random_top1_label",
                                                "oracle_top1_label")}
        for row, q in enumerate(idx):
            pool = states.pools[q]
            y = np.nan_to_num(raw[q, pool])
            out["top1_label"][row] = y[np.argmax(self.score_states(states.i[q], states.r[q]))]
            out["prior_top1_label"][row] = y[np.argmax(prior[pool])]
            out["random_top1_label"][row], out["oracle_top1_label"][row] = y.mean(), y.max()
        return out

    @classmethod
    def cv_report(cls, report: dict, measures: dict, settings, per_query: dict | None = None) -> dict:
        """Adds the paired t-test of the top candidate's label against the prior's."""
        from scipy import stats

        if per_query and "top1_label" in per_query:
            a, b = per_query["top1_label"], per_query["prior_top1_label"]
            report["top1_minus_prior"] = float(np.mean(a - b))
            report["top1_vs_prior_p"] = float(stats.ttest_rel(a, b).pvalue) if np.any(a != b) else 1.0
        return report

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             **options) -> "LanguageRanker":
        """The trained model in directory ``model`` (either kind), for `rerank`."""
        from pathlib import Path

        from . import load
        from .base import torch_only

        torch_only(cls.name, runtime)  # its LM states come from torch alone
        if not (Path(model) / "model.json").is_file():
            raise LlmrankError(f"--model {model}: not a model directory; train one with `llmrank train "
                               f"language-ranker-list|point`")
        ranker = load(model, runtime)
        if not isinstance(ranker, LanguageRanker):
            raise LlmrankError(f"--model {model}: a {ranker.name} model, not a language ranker")
        if max_length and max_length != ranker.settings.max_length:
            raise LlmrankError(f"--max-length: this model read candidates cut at {ranker.settings.max_length} tokens "
                               f"and scores them cut the same way")
        ranker.scoring_batch = batch_size  # --batch-size: candidates in one forward pass of the LM
        states = ranker.lm_states()
        ranker.model_name, ranker.max_length, ranker.device = model, states.max_length, states.device
        ranker.batch_size = batch_size
        return ranker

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        """Candidate texts (passages, answers) per query."""
        states = self.lm_states()
        return [self.score_states(*got) for got in states.states_many(list(zip(queries, candidates)))]

    def use_corpus(self, passages: dict[str, str]) -> None:
        raise LlmrankError(f"{self.name} reranks candidates: `llmrank rerank --kind language-ranker --model DIR`")

    def manifest(self) -> dict:
        if self.model_name:  # opened for `rerank`: a run's manifest names the model directory, not its items
            return {"model": self.model_name, "kind": self.kind, "lm_states": self.lm_info}
        return {**super().manifest(), "lm_states": self.lm_info, "prior": self.prior, "kind": self.kind}

    def restore(self, manifest: dict) -> None:
        self.lm_info, self.prior = manifest["lm_states"], manifest["prior"]

    def save_weights(self, directory) -> None:
        import torch

        torch.save(self.net.state_dict(), directory / "model.pt")

    def load_weights(self, directory) -> None:
        import torch

        self.net = build_network(self.settings, self.input_dim, self.kind)
        self.net.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        self.net.eval()


@register("language-ranker-point")
class LanguageRankerPoint(LanguageRanker):
    """Pointwise: each candidate's state scored alone."""

    kind = "point"


@register("language-ranker-list", aliases=("language-ranker",))
class LanguageRankerList(LanguageRanker):
    """Listwise: a query's candidates scored together."""

    kind = "list"
