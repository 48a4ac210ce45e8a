"""``icr``: in-context reranking (arXiv 2410.02642) with a frozen causal LM: the candidates and
the query in one prompt, one forward pass, each passage scored by the attention the query's
tokens pay to its tokens. No generation, no training.

As ICR's reference code: the chat-templated prompt "Here are some paragraphs:", the passages as
``[i] text`` in reverse first-stage order (the best nearest the query), then "Please find
information that are relevant to the following query in the paragraphs above." and ``Query:
{q}``. A token's score is the attention from the query span (the closing instruction, the query
and the template's end), averaged over its tokens and summed over all layers and heads, minus
the same with the query ``N/A`` (calibration); a passage's score is the sum over its tokens,
leaving out those below mean - 2 std of the passage.

The passages precede the query, so one pass over them (SDPA) fills a KV cache and the query and
``N/A`` are two short passes on copies of it, the only ones that need attention weights
(eager): attention over the whole prompt is never materialised. Lists longer than ``--window``
are cut into windows and merged (``--merge``).

Its head-selection component is RouteHead (``rankers/routehead.py``, `train routehead`): with
``--router DIR``, or a routehead directory as ``--model`` (it names its LM), a query's score sums
only the heads the router picks for it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LlmrankError
from . import register
from .base import PassageRanker, Runtime, Settings, setting

HEADER = "Here are some paragraphs:"
INSTRUCTION = ("\n\nPlease find information that are relevant to the following query in the paragraphs "
               "above.\n\nQuery: ")
CALIBRATION_QUERY = "N/A"
PASSAGE_TOKENS = 300  # default cut of each passage (--max-length)


@dataclass
class IcrSettings(Settings):
    window: int = setting(20, "Passages per prompt; a longer list is cut into windows merged by --merge.", min=1,
                          scoring=True)
    router: str = setting("", "A routehead model (`train routehead`): sum only the heads it picks per query, "
                              "weighted, instead of all.", scoring=True)
    merge: str = setting("tournament", "tournament (each window, then one prompt over the best of each; the rest "
                                       "by per-window z-score) or slide (ICR's own: bottom-up windows, stride "
                                       "window/2).", choices=("tournament", "slide"), scoring=True)


@dataclass
class Prompt:
    """Token ids of one window: the shared prefix (template start, header, passages), each
    passage's token range in it (in the order given), and one suffix per query text."""

    prefix: list[int]
    spans: list[tuple[int, int]]
    suffixes: dict[str, list[int]]

    def ids(self, query: str) -> list[int]:
        return self.prefix + self.suffixes[query]


@register("icr")
class Icr(PassageRanker):
    Settings = IcrSettings

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             window: int | None = None, merge: str | None = None, router: str | None = None, **options) -> "Icr":
        from ..kit.causal_lm import load_causal_lm
        from ..kit.devices import place
        from . import load, settings_for
        from .base import read_manifest

        stored = read_manifest(model) if Path(model).is_dir() else None
        if stored is not None and stored.get("ranker") == "routehead":  # the router names its LM
            if router:
                raise LlmrankError(f"--model {model} is a routehead model: give it alone, or the LM with --router")
            model, router = stored["lm"]["lm"], model
        ranker = cls(settings_for("icr", window=window, merge=merge, router=router), runtime)
        device, dtype = place(runtime)
        ranker.tokenizer, ranker.lm = load_causal_lm(model, device, dtype)
        if router:
            ranker.router = load(router)
            if ranker.router.name != "routehead":
                raise LlmrankError(f"--router {router}: a {ranker.router.name} model, not a routehead one")
            ranker.router.check_lm(model, ranker.lm.config)
        ranker.model_name, ranker.device, ranker.batch_size = model, device, batch_size
        ranker.max_length = max_length or PASSAGE_TOKENS
        ranker.context = getattr(ranker.lm.config, "max_position_embeddings", None)
        return ranker

    router = None  # a RouteHead: per query, the heads to sum and their weights

    def manifest(self) -> dict:
        return {**super().manifest(), "window": self.settings.window, "merge": self.settings.merge,
                "router": self.settings.router}

    # -- one prompt ---------------------------------------------------------------------------

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def build(self, query: str, passages: list[str]) -> Prompt:
        """The prompt of one window; ``passages`` best first (placed in reverse)."""
        template = (self.tokenizer.apply_chat_template([{"role": "user", "content": "\x00"}], tokenize=False,
                                                       add_generation_prompt=True)
                    if getattr(self.tokenizer, "chat_template", None) else "\x00")
        start, end = template.split("\x00")
        prefix = self._tokens(start + HEADER)
        spans: list[tuple[int, int]] = [(0, 0)] * len(passages)
        for number, i in enumerate(reversed(range(len(passages))), start=1):
            prefix += self._tokens(f"\n\n[{number}] ")
            text = self._tokens(passages[i])
            if len(text) > self.max_length:
                self.truncated += 1
                text = text[:self.max_length]
            spans[i] = (len(prefix), len(prefix) + len(text))
            prefix += text
        suffixes = {q: self._tokens(INSTRUCTION + q + end) for q in (query, CALIBRATION_QUERY)}
        prompt = Prompt(prefix, spans, suffixes)
        longest = max(len(prompt.ids(q)) for q in suffixes)
        if self.context and longest > self.context:
            fits = max(1, int(len(passages) * (self.context - max(map(len, suffixes.values()))) / len(prefix)))
            raise LlmrankError(f"a window of {len(passages)} passages makes a {longest}-token prompt, above "
                               f"{self.model_name}'s {self.context} positions: about {fits} fit (--window), or cut "
                               f"passages shorter (--max-length)")
        return prompt

    def attention(self, prompt: Prompt, state_layer: int | None = None) -> tuple[dict, "object"]:
        """Per query text: the attention its suffix pays to each prefix token, averaged over the
        suffix's tokens, per layer and head: float32 [layers, heads, prefix tokens]; and with
        ``state_layer`` the query suffix's mean hidden state after that layer (else None)."""
        import torch

        from ..kit.causal_lm import cache_keyword

        body = self.lm.model
        keyword = cache_keyword(body)
        query = next(iter(prompt.suffixes))
        with torch.inference_mode():
            cache = body(input_ids=torch.tensor([prompt.prefix], device=self.device), use_cache=True).past_key_values
            out, state = {}, None
            self.lm.set_attn_implementation("eager")
            try:
                for text, suffix in prompt.suffixes.items():
                    step = body(input_ids=torch.tensor([suffix], device=self.device), use_cache=True,
                                output_attentions=True, output_hidden_states=state_layer is not None and text == query,
                                **{keyword: copy.deepcopy(cache)})
                    att = torch.stack(step.attentions)[:, 0, :, :, :len(prompt.prefix)]  # [L, H, suffix, prefix]
                    out[text] = att.float().mean(dim=2).cpu()
                    if step.hidden_states is not None:
                        state = step.hidden_states[state_layer][0].float().mean(dim=0).cpu().numpy()
            finally:
                self.lm.set_attn_implementation("sdpa")
        return out, state

    def head_scores(self, query: str, passages: list[str], state_layer: int | None = None):
        """(S float64 [passages, layers x heads], the query state or None): S[d, h] is head h's
        calibrated attention summed over the tokens of passage d that ICR keeps (those at or above
        mean - 2 std of the all-heads token scores), so summing S over the heads gives ICR's score."""
        prompt = self.build(query, passages)
        att, state = self.attention(prompt, state_layer)
        calibrated = (att[query] - att[CALIBRATION_QUERY]).flatten(0, 1).double().numpy()  # [L x H, prefix]
        total = calibrated.sum(axis=0)
        out = np.zeros((len(passages), calibrated.shape[0]))
        for i, (a, b) in enumerate(prompt.spans):
            values = total[a:b]
            if len(values):
                keep = a + np.flatnonzero(values >= values.mean() - 2 * values.std())
                out[i] = calibrated[:, keep].sum(axis=1)
        return out, state

    def score_window(self, query: str, passages: list[str]) -> np.ndarray:
        if self.router is None:
            return self.head_scores(query, passages)[0].sum(axis=1)
        heads, state = self.head_scores(query, passages, self.router.lm["state_layer"])
        return heads @ self.router.weights(state[None])[0]

    # -- lists longer than a window -----------------------------------------------------------

    def rank_list(self, query: str, passages: list[str]) -> np.ndarray:
        """Scores for a whole candidate list (first-stage order), windows merged."""
        n, width = len(passages), self.settings.window
        if n <= width:
            return self.score_window(query, passages)
        return (self._tournament if self.settings.merge == "tournament" else self._slide)(query, passages, width)

    def _tournament(self, query: str, passages: list[str], width: int) -> np.ndarray:
        """Windows in first-stage order; the best width // windows of each meet in one more
        prompt and rank on top by its z-scores; the rest rank by their window's z-scores."""
        windows = [list(range(a, min(a + width, len(passages)))) for a in range(0, len(passages), width)]
        per_window = max(1, width // len(windows))
        out, finalists = np.zeros(len(passages)), []
        for w in windows:
            s = self.score_window(query, [passages[i] for i in w])
            out[w] = _z(s)
            finalists += [w[i] for i in np.argsort(-s, kind="stable")[:per_window]]
        final = self.score_window(query, [passages[i] for i in finalists])
        out[finalists] = 100.0 + _z(final)  # z-scores of <= width values stay far below 100
        return out

    def _slide(self, query: str, passages: list[str], width: int) -> np.ndarray:
        """ICR's sliding windows: from the bottom of the list up, stride width // 2, each window
        reordered by its scores; the score is the final position (higher = better)."""
        order, stride, end = list(range(len(passages))), max(1, width // 2), len(passages)
        while True:
            start = max(0, end - width)
            idx = order[start:end]
            s = self.score_window(query, [passages[i] for i in idx])
            order[start:end] = [idx[j] for j in np.argsort(-s, kind="stable")]
            if start == 0:
                break
            end -= stride
        out = np.zeros(len(passages))
        out[order] = np.arange(len(passages), 0, -1, dtype=np.float64)
        return out

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        return [self.rank_list(q, cs) if cs else np.zeros(0) for q, cs in zip(queries, candidates)]

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        raise LlmrankError("icr scores a query's candidates together, not pairs")


def _z(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros_like(values)
