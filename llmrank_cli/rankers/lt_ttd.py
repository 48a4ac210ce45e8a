"""LT-TTD: a two-tower retriever (TTE) and a listwise transformer (LT) over its top K, trained as
one model with two-way distillation (arXiv 2505.04434), against the cascade whose retriever
loses what its reranker never sees.

The seed is theory without experiments; where it is silent llmrank chooses (README "LT-TTD"):

- TTE: the query is an adaptive pooling of the frozen encoder's per-layer mean-pooled states
  (alpha = softmax(w . h_j + b_j)), then a tower; the item is a learned id embedding and a tower
  (item data) or a frozen passage embedding and a linear map (content items: passages). Score
  = cosine, trained by InfoNCE over the whole pool. Residual MLPs (to 32) read the query
  embedding and [item embedding; the item's mean training gain]: the prior, which cosine
  towers miss.
- LT: [e_q; e_i; r_q; r_i; s_TTE] per candidate -> Linear(128), 2 encoder layers, 4 heads, no
  positions (a set), Linear(1) (zero at start) + a learned multiple of s_TTE (1 at start), over
  TTE's top K: LT starts at TTE's order and learns what to change, with a learned multiple of
  the item's mean training gain (0 at start) beside it; below K, TTE's order is kept.
- Loss: l1 InfoNCE + l2 ListMLE/ApproxNDCG(LT, top K) + l3 KL(softmax(s_LT/tau) || softmax(s_TTE/tau))
  (LT detached: LT teaches TTE) + l4 MSE(s_LT, s_TTE) (TTE detached: regularises LT) + l5 MSE
  (LT's item outputs projected to TTE's space, e_i detached). ``joint`` lets L_rank reach TTE
  through LT's inputs; ``disjoint`` trains TTE alone, freezes it, then LT on its top K.
- Content items start as the bi-encoder: pooling on the last layer, identity towers, residual
  MLPs with a zero last layer.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..errors import LlmrankError, Note
from ..kit.mlp import mlp
from . import register
from .base import ItemRanker, LoopFields, Runtime, setting

LOSS_NAMES = ("retrieve", "rank", "forward", "backward", "align")
TTE_MODULES = ("pool", "query", "item", "item_embedding")  # the rest (residuals, LT, skip) is LT's


@dataclass
class LtTtdSettings(LoopFields):
    k: int = setting(5, "LT reranks TTE's top K (clamped to the pool, with a note).", min=1, scoring=True)
    distill: str = setting("both", "Distillation: none, forward (LT teaches TTE), backward (TTE regularises LT) "
                                   "or both.", choices=("none", "forward", "backward", "both"))
    schedule: str = setting("joint", "joint (one model, every loss) or disjoint (TTE alone, frozen, then LT on its "
                                     "top K: the cascade).", choices=("joint", "disjoint"))
    tau: float = setting(2.0, "Distillation temperature (> 0).")
    lambdas: list = setting([1.0, 1.0, 0.5, 0.1, 0.1], "Weights of L_retrieve, L_rank, L_forward, L_backward, "
                                                        "L_align (comma-separated).")
    rank_loss: str = setting("listmle", "LT's loss over the top K: listmle or approxndcg.",
                             choices=("listmle", "approxndcg"))
    temperature: float = setting(0.07, "InfoNCE temperature of L_retrieve.", min=1e-6)
    query_layers: list = setting([256, 128], "Query tower sizes after the pooled states (item data).")
    item_dim: int = setting(128, "Learned item embedding size (item data).", min=1)
    item_layers: list = setting([192, 128], "Item tower sizes; the last equals the query tower's (item data).")
    residual_dim: int = setting(32, "Size of the residual features r_q, r_i.", min=1)
    width: int = setting(128, "LT width.", min=1)
    lt_layers: int = setting(2, "LT encoder layers.", min=1)
    lt_heads: int = setting(4, "LT attention heads.", min=1)
    dropout: float = setting(0.1, "Dropout in LT.", min=0.0)
    upqe_budget_ms: float = setting(10.0, "UPQE's reference time per query t_ref in ms (> 0).")
    epochs: int = setting(5, "Training epochs (disjoint: for each stage).", min=1)

    def check(self) -> None:
        super().check()
        if self.tau <= 0:
            raise LlmrankError(f"--tau must be above 0, not {self.tau!r}")
        if len(self.lambdas) != len(LOSS_NAMES) or any(w < 0 for w in self.lambdas):
            raise LlmrankError(f"--lambdas takes {len(LOSS_NAMES)} weights >= 0 ({', '.join(LOSS_NAMES)}), "
                               f"not {','.join(map(str, self.lambdas))}")
        if self.upqe_budget_ms <= 0:
            raise LlmrankError(f"--upqe-budget-ms must be above 0, not {self.upqe_budget_ms!r}")
        if self.item_layers[-1:] != self.query_layers[-1:]:
            raise LlmrankError("--item-layers and --query-layers must end at the same size (the cosine's space)")
        if self.width % self.lt_heads:
            raise LlmrankError(f"--width {self.width} is not a multiple of --lt-heads {self.lt_heads}")

    def weights(self) -> dict[str, float]:
        """The loss weights, with the distillation terms --distill turns off at 0."""
        w = dict(zip(LOSS_NAMES, self.lambdas))
        if self.distill in ("none", "backward"):
            w["forward"] = 0.0
        if self.distill in ("none", "forward"):
            w["backward"] = 0.0
        return w


def _identity(dim: int):
    import torch
    import torch.nn as nn

    layer = nn.Linear(dim, dim)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(dim))
        layer.bias.zero_()
    return layer


def build_network(s: LtTtdSettings, layers: int, input_dim: int, n_items: int, content: bool):
    """TTE + LT. ``content``: items are given as frozen embeddings (same size as the query's)."""
    import torch
    import torch.nn as nn

    class Pool(nn.Module):
        """alpha_j = softmax(w . h_j + b_j) over the layers; content items start on the last layer."""

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(input_dim))
            self.b = nn.Parameter(torch.zeros(layers))
            if content:
                with torch.no_grad():
                    self.b[-1] = 30.0

        def forward(self, states):
            alpha = torch.softmax(states @ self.w + self.b, dim=1)
            return (alpha.unsqueeze(-1) * states).sum(1)

    class LtTtd(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = Pool()
            if content:
                dim = input_dim
                self.query, self.item, self.item_embedding = _identity(dim), _identity(dim), None
            else:
                dim = s.query_layers[-1]
                self.query = mlp([input_dim] + s.query_layers)
                self.item_embedding = nn.Embedding(n_items, s.item_dim)
                self.item = mlp([s.item_dim] + s.item_layers)
            self.register_buffer("item_gain", torch.zeros(0 if content else n_items))
            self.r_q = mlp([dim, 64, s.residual_dim], zero_last=True)
            self.r_i = mlp([dim + 1, 64, s.residual_dim], zero_last=True)
            self.lt_in = nn.Linear(2 * dim + 2 * s.residual_dim + 1, s.width)
            block = nn.TransformerEncoderLayer(s.width, s.lt_heads, 2 * s.width, s.dropout, batch_first=True)
            self.lt = nn.TransformerEncoder(block, s.lt_layers, enable_nested_tensor=False)
            self.lt_out = nn.Linear(s.width, 1)
            nn.init.zeros_(self.lt_out.weight)  # LT starts as TTE's order (the skip below) and learns what to add
            nn.init.zeros_(self.lt_out.bias)
            self.skip = nn.Parameter(torch.ones(()))
            self.prior_skip = nn.Parameter(torch.zeros(()))
            self.align = nn.Linear(s.width, dim)

        def towers(self, states, item_features=None):
            """(e_q [B, d], e_i [N, d], s_TTE [B, N] cosine)."""
            e_q = self.query(self.pool(states))
            e_i = self.item(item_features if content else self.item_embedding.weight)
            return e_q, e_i, nn.functional.normalize(e_q, dim=-1) @ nn.functional.normalize(e_i, dim=-1).T

        def listwise(self, x):
            """LT over candidate rows x [B, K, features]: (scores [B, K], outputs [B, K, width])."""
            h = self.lt(self.lt_in(x))
            return self.lt_out(h).squeeze(-1), h

        def rerank(self, e_q, e_i, s_tte, top):
            """LT's scores and outputs for the candidates ``top`` [B, K] of each query: the
            transformer's score plus a learned multiple of s_TTE (a skip: LT starts at TTE's order)."""
            batch, k = top.shape
            gain = self.item_gain if not content else e_i.new_zeros(len(e_i))
            r_q, r_i = self.r_q(e_q), self.r_i(torch.cat([e_i, gain[:, None]], dim=-1))
            s_top = s_tte.gather(1, top)
            x = torch.cat([e_q[:, None].expand(batch, k, -1), e_i[top], r_q[:, None].expand(batch, k, -1), r_i[top],
                           s_top[..., None]], dim=-1)
            scores, h = self.listwise(x)
            return scores + self.skip * s_top + self.prior_skip * gain[top], h

    return LtTtd()


def listmle(scores, gains, generator):
    """ListMLE: -log P(the gain order | scores) (Plackett-Luce), ties in a random order; lists
    without any gain carry no order and are left out."""
    import torch

    noise = torch.rand(gains.shape, generator=generator).to(gains.device) * 1e-3
    order = (gains + noise).argsort(dim=1, descending=True)
    ranked = scores.gather(1, order)
    per_list = (torch.logcumsumexp(ranked.flip(1), dim=1).flip(1) - ranked).sum(1)
    useful = gains.max(1).values > gains.min(1).values
    return per_list[useful].mean() if useful.any() else scores.sum() * 0.0


def approx_ndcg(scores, gains, generator, alpha: float = 0.1):
    """1 - ApproxNDCG: ranks as sums of sigmoids of score differences (temperature ``alpha``)."""
    import torch

    diff = (scores[:, None, :] - scores[:, :, None]) / alpha  # [b, i, j] = s_j - s_i
    ranks = 0.5 + torch.sigmoid(diff).sum(-1)  # 1 + sum over j != i
    gain = torch.pow(2.0, gains) - 1
    dcg = (gain / torch.log2(1 + ranks)).sum(1)
    ideal = (gain.sort(dim=1, descending=True).values / torch.log2(torch.arange(2, gains.shape[1] + 2,
                                                                                device=gains.device))).sum(1)
    useful = ideal > 0
    return (1 - dcg[useful] / ideal[useful]).mean() if useful.any() else scores.sum() * 0.0


RANK_LOSSES = {"listmle": listmle, "approxndcg": approx_ndcg}


def loss_terms(net, s: LtTtdSettings, states, gains, k: int, generator, item_features=None,
               live: bool = True, need=LOSS_NAMES) -> dict:
    """Every loss term named in ``need`` for a batch of queries. ``live``: L_rank reaches TTE
    through LT's inputs (joint); L_backward and L_align always see TTE detached, L_forward
    always sees LT detached."""
    import torch
    import torch.nn.functional as F

    from ..training.losses import infonce_loss

    e_q, e_i, s_tte = net.towers(states, item_features)
    terms = {}
    if "retrieve" in need:
        terms["retrieve"] = infonce_loss(s_tte, gains, SimpleNamespace(temperature=s.temperature,
                                                                        hard_negatives=False), 0, generator)
    if not set(need) & {"rank", "forward", "backward", "align"}:
        return terms
    top = s_tte.detach().topk(min(k, s_tte.shape[1]), dim=1).indices
    s_lt, h = net.rerank(e_q.detach(), e_i.detach(), s_tte.detach(), top)
    g_top, s_top = gains.gather(1, top), s_tte.gather(1, top)
    if "rank" in need:
        live_scores = net.rerank(e_q, e_i, s_tte, top)[0] if live else s_lt
        terms["rank"] = RANK_LOSSES[s.rank_loss](live_scores, g_top, generator)
    if "forward" in need:
        teacher = torch.log_softmax(s_lt.detach() / s.tau, dim=1)
        terms["forward"] = F.kl_div(torch.log_softmax(s_top / s.tau, dim=1), teacher, log_target=True,
                                    reduction="batchmean")
    if "backward" in need:
        terms["backward"] = F.mse_loss(s_lt, s_top.detach())
    if "align" in need:
        terms["align"] = F.mse_loss(net.align(h), e_i.detach()[top])
    return terms


@register("lt-ttd")
class LtTtd(ItemRanker):
    """Items are LLMs of a data directory, or passages (content items, `prepare items --corpus`)."""

    Settings = LtTtdSettings
    query_features = "layer_states"
    net = None

    def __init__(self, settings=None, runtime: Runtime = Runtime()):
        super().__init__(settings, runtime)
        self.content_items, self.layers = False, 0
        self.item_features: np.ndarray | None = None  # content items: their frozen embeddings

    @property
    def epochs(self) -> int:
        return self.settings.epochs * (2 if self.settings.schedule == "disjoint" else 1)

    def _k(self, pool: int) -> int:
        if self.settings.k > pool:
            warnings.warn(f"--k {self.settings.k} is above the pool of {pool} items: LT reranks all of them", Note)
        return min(self.settings.k, pool)

    def fit_pool(self, data, train: np.ndarray, seed: int, progress) -> None:
        import torch

        from ..kit.devices import place
        from ..training.loop import Watch, seeded, train_epochs

        s = self.settings
        device, dtype = place(self.runtime)
        states = self.features_of(data)
        self.content_items, self.layers = data.item_embeddings is not None, states.shape[1]
        self.item_features = data.item_embeddings
        if self.content_items and data.item_embeddings.shape[1] != self.input_dim:
            raise LlmrankError(f"{data.path}: item embeddings ({data.item_embeddings.shape[1]}-d) and query states "
                               f"({self.input_dim}-d) come from different encoders")
        generator = seeded(seed)  # before the network: its initial weights come from the seed
        self.net = build_network(s, self.layers, self.input_dim, len(self.items), self.content_items).to(device)
        gains = data.gains[train]
        if not self.content_items:
            self.net.item_gain.copy_(torch.as_tensor(gains.mean(axis=0)))
        keep = gains.max(axis=1) > 0  # queries without any positive item carry no ranking signal
        if not keep.any():
            raise LlmrankError("no training query has a positive label")
        x = torch.as_tensor(states[train][keep], dtype=torch.float32, device=device)
        g = torch.as_tensor(gains[keep], dtype=torch.float32, device=device)
        items = (torch.as_tensor(self.item_features, dtype=torch.float32, device=device)
                 if self.content_items else None)
        k = self._k(len(self.items))
        weights = s.weights()

        def stage(w: dict, live: bool):
            need = tuple(n for n in LOSS_NAMES if w[n] > 0)
            if not need:
                raise LlmrankError(f"--lambdas {','.join(map(str, s.lambdas))} with --schedule {s.schedule} and "
                                   f"--distill {s.distill} leaves a training stage without a loss")

            def loss(idx, epoch):
                idx = idx.to(device)
                terms = loss_terms(self.net, s, x[idx], g[idx], k, generator, items, live, need)
                return sum(w[n] * terms[n] for n in need)
            return loss

        watch = self.watch or Watch()
        if s.schedule == "joint":
            train_epochs(self.net, self.net.parameters(), len(x), stage(weights, True), s, generator, device,
                         dtype, progress, watch)
        else:
            tte, lt = self._parameters()
            first = {n: (weights[n] if n == "retrieve" else 0.0) for n in LOSS_NAMES}
            second = {n: (0.0 if n in ("retrieve", "forward") else weights[n]) for n in LOSS_NAMES}
            for name, params, w in (("tte", tte, first), ("lt", lt, second)):
                for p in tte:
                    p.requires_grad_(name == "tte")
                part = Watch(watch.checkpoints / name if watch.checkpoints else None, watch.evaluate, watch.steps,
                             watch.epochs)
                if part.checkpoints:
                    part.checkpoints.mkdir(parents=True, exist_ok=True)
                train_epochs(self.net, params, len(x), stage(w, False), s, generator, device, dtype, progress,
                             part)
            for p in tte:
                p.requires_grad_(True)
        self.net.cpu()

    def _parameters(self) -> tuple[list, list]:
        """(TTE's parameters, LT's: the residual extractors, the transformer and its heads)."""
        tte, lt = [], []
        for name, p in self.net.named_parameters():
            (tte if name.split(".")[0] in TTE_MODULES else lt).append(p)
        return tte, lt

    def _items_tensor(self):
        import torch

        return torch.as_tensor(self.item_features, dtype=torch.float32) if self.content_items else None

    def _passes(self, states: np.ndarray, batch: int = 256):
        """Per batch of queries: (s_TTE, TTE's top K, LT's scores) in inference mode."""
        import torch

        self.net.eval()
        items = self._items_tensor()
        k = self._k(len(self.items))
        with torch.inference_mode():
            for start in range(0, len(states), batch):
                x = torch.as_tensor(states[start:start + batch], dtype=torch.float32)
                e_q, e_i, s_tte = self.net.towers(x, items)
                top = s_tte.topk(k, dim=1).indices
                yield s_tte, top, self.net.rerank(e_q, e_i, s_tte, top)[0]

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        """LT's order over TTE's top K (scores >= 0), below it TTE's order (scores <= -2)."""
        rows = []
        for s_tte, top, s_lt in self._passes(embeddings):
            final = s_tte.double() - 3.0
            final.scatter_(1, top, (s_lt - s_lt.min(dim=1, keepdim=True).values).double())
            rows.append(final.numpy())
        return np.concatenate(rows) if rows else np.zeros((0, len(self.items)))

    def held_out_report(self, data, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per query, the recall of TTE's top K (``tte_recall``); TTE's scores (``tte``: the run
        of the retriever alone)."""
        tte, recall = [], []
        gains = data.gains[idx] > 0
        for start, (s_tte, top, _) in zip(range(0, len(idx), 256), self._passes(self.features_of(data)[idx])):
            g = gains[start:start + len(s_tte)]
            found = np.take_along_axis(g, top.numpy(), axis=1).sum(1)
            with np.errstate(invalid="ignore", divide="ignore"):
                recall.append(np.where(g.sum(1) > 0, found / g.sum(1), np.nan))
            tte.append(s_tte.double().numpy())
        return {"tte": np.concatenate(tte), "tte_recall": np.concatenate(recall)}

    @classmethod
    def cv_report(cls, report: dict, measures: dict, settings, per_query: dict | None = None) -> dict:
        """UPQE = R@K of TTE x nDCG@10 x min(1, t_ref / ms per query), llmrank's reading of the
        seed's unprinted metric, with its parts."""
        recall, ndcg = report.pop("tte_recall"), measures["nDCG@10"]["mean"]
        speed = min(1.0, settings.upqe_budget_ms / max(report["ms_per_query"], 1e-9))
        return {f"TTE R@{settings.k}": recall, "nDCG@10": ndcg, **report, "UPQE": recall * ndcg * speed}

    def use_corpus(self, passages: dict[str, str]) -> None:
        """Content items: score these passages (ids -> texts), embedded by the model's encoder."""
        from ..kit.encoders import cached_embeddings

        if not self.content_items:
            super().use_corpus(passages)
        self.items = sorted(passages)
        self.item_features = cached_embeddings([passages[i] for i in self.items], self.encoder)

    def manifest(self) -> dict:
        return {**super().manifest(), "items": [] if self.content_items else self.items,
                "content_items": self.content_items, "layers": self.layers}

    def restore(self, manifest: dict) -> None:
        self.content_items, self.layers = manifest["content_items"], manifest["layers"]

    def save_weights(self, directory) -> None:
        import torch

        torch.save(self.net.state_dict(), directory / "model.pt")

    def load_weights(self, directory) -> None:
        import torch

        self.net = build_network(self.settings, self.layers, self.input_dim, len(self.items), self.content_items)
        self.net.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        self.net.eval()
