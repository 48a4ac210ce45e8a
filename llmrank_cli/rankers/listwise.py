"""``listwise`` (RankGPT / RankZephyr): a causal LM reads a window of passages and answers with
their order, ``[2] > [1] > ...``; windows slide from the bottom of the list to the top (window
20, stride 10 by default), so the best passages can climb the whole list in one pass.

The algorithm, prompts and answer reading are rank_llm's (kit/listwise_prompts.py): the same
windows, the same messages byte for byte, the same permutation of a given answer; an answer that
names no passage of its window leaves the window as it was and is counted. Answers are greedy
and kept in the response cache (kit/response_cache.py), so a rerun makes no call and a killed
run resumed with ``--resume`` repeats the uninterrupted run's bytes.

The queries of a chunk slide in step: the k-th windows of all of them are asked at once (the
engine answers them one by one on transformers, ``--concurrency`` at a time from a server), and
a query's next window waits for its previous answer. A query's scores are its final order (the
top passage scores n, the last 1).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import LlmrankError
from . import register
from .base import PassageRanker, Runtime, ServedFields, setting


@dataclass
class ListwiseSettings(ServedFields):
    template: str = setting("rank_zephyr", "rank_zephyr, rank_gpt (rank_llm's prompts) or a template file in "
                                           "rank_llm's YAML format.", scoring=True)
    window: int = setting(20, "Passages per prompt.", min=2, scoring=True)
    stride: int = setting(10, "Step between windows, from the bottom of the list up.", min=1, scoring=True)
    passes: int = setting(1, "Sliding-window passes over the list.", min=1, scoring=True)
    passage_words: int = setting(300, "Words of each passage in the prompt (fewer where the prompt would "
                                          "not fit the model's context).", min=1, scoring=True)
    cache: bool = setting(True, "Keep answers in $LLMRANK_CACHE/llm-responses.sqlite and reuse them "
                                "(--no-cache: ask the model every time).", scoring=True)


@dataclass
class Window:
    """One call's accounting."""

    cached: bool
    parsed: bool
    passages_cut: int


@register("listwise")
class Listwise(PassageRanker):
    Settings = ListwiseSettings
    served = True

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             **options) -> "Listwise":
        from ..kit.listwise_prompts import load_template
        from ..kit.llm_engine import open_engine
        from ..kit.response_cache import ResponseCache, default_dir
        from . import settings_for

        ranker = cls(settings_for("listwise", **options), runtime)
        s = ranker.settings
        ranker.template = load_template(s.template)
        lm = open_engine(model, runtime, s)  # no weights yet: every check first
        if lm.tokenizer is not None and not lm.has_chat_template:
            raise LlmrankError(f"model {model!r} has no chat template; listwise prompts are chats")
        ranker.lm = lm
        smallest = lm.prompt_length(lm.prompt(ranker._messages("q", ["x"] * s.window, 1))) + ranker._answer_tokens(
            s.window)
        if smallest > lm.context:
            raise LlmrankError(f"--window {s.window}: even one-word passages make a {smallest}-token prompt and "
                               f"answer, over {model}'s context of {lm.context} tokens; use a smaller window")
        ranker.cache = ResponseCache(default_dir() if s.cache else None)
        ranker.model_name, ranker.device, ranker.batch_size = model, lm.device, 1
        ranker.max_length = s.passage_words
        ranker.windows = []  # a Window per call
        return ranker

    # -- one window ------------------------------------------------------------------------

    def _messages(self, query: str, passages: list[str], words: int) -> list[dict]:
        from ..kit.listwise_prompts import render

        return render(self.template, query, passages, words)

    def _answer_tokens(self, size: int) -> int:
        from ..kit.listwise_prompts import answer_tokens

        return answer_tokens(self.lm.count, size)

    def fitted(self, query: str, passages: list[str]):
        """The window's prompt with passages cut to the most words that fit the context
        (rank_llm's loop: fewer words by the excess over 4 tokens a passage), and those words."""
        words, budget = self.settings.passage_words, self._answer_tokens(len(passages))
        while True:
            prompt = self.lm.prompt(self._messages(query, passages, words), budget)
            excess = self.lm.prompt_length(prompt) - (self.lm.context - budget)
            if excess <= 0 or words == 1:
                return prompt, words
            words = max(1, words - max(1, excess // (len(passages) * 4)))

    def rank_windows(self, queries: list[str], windows: list[list[str]]) -> list[list[int]]:
        """Each window's new order (0-based, into its passages); answers the cache lacks are
        asked of the engine together, and cached as each arrives."""
        from ..kit.listwise_prompts import permutation
        from ..kit.response_cache import key_of

        asked, answers, first = [], {}, len(self.windows)
        for i, (query, passages) in enumerate(zip(queries, windows)):
            prompt, words = self.fitted(query, passages)
            key = key_of(self.lm.identity, prompt.content, self.lm.sampling(prompt.max_new_tokens))
            answers[i] = self.cache.get(key)
            cut = sum(len(p.split()) > words for p in passages)
            self.windows.append(Window(answers[i] is not None, True, cut))
            if answers[i] is None:
                asked.append((i, key, prompt))

        def keep(j: int, text: str) -> None:
            i, key, _ = asked[j]
            answers[i] = text
            self.cache.put(key, text)

        self.lm.answers([p for _, _, p in asked], keep)
        orders = []
        for window, (i, passages) in zip(self.windows[first:], enumerate(windows)):
            order, window.parsed = permutation(answers[i], len(passages))
            orders.append(order)
        return orders

    # -- one list ----------------------------------------------------------------------------

    def spans(self, n: int) -> list[tuple[int, int]]:
        """rank_llm's sliding windows over n passages: from the bottom up, the last may be short."""
        size, stride = min(self.settings.window, n), self.settings.stride
        out, end, start = [], n, n - size
        while end > 0 and start + stride != 0:
            start = max(start, 0)
            out.append((start, end))
            end, start = end - stride, start - stride
        return out

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        """Scores from each list's final order after every pass; the queries' windows slide in
        step (the local engine loads its weights at the first answer the cache lacks)."""
        orders = [list(range(len(p))) for p in candidates]
        steps = [[s for s in self.spans(len(p)) if s[1] - s[0] > 1] * self.settings.passes for p in candidates]
        for k in range(max(map(len, steps), default=0)):
            now = [(q, *steps[q][k]) for q in range(len(candidates)) if k < len(steps[q])]
            moved = self.rank_windows([queries[q] for q, _, _ in now],
                                      [[candidates[q][i] for i in orders[q][a:b]] for q, a, b in now])
            for (q, a, b), order in zip(now, moved):
                orders[q][a:b] = [orders[q][a + j] for j in order]
        out = []
        for order in orders:
            scores = np.empty(len(order), dtype=np.float64)
            scores[order] = np.arange(len(order), 0, -1, dtype=np.float64)
            out.append(scores)
        return out

    def report(self, stats) -> str:
        w = self.windows
        return (f"{len(w)} windows ({sum(x.cached for x in w)} answers from the cache, "
                f"{sum(not x.parsed for x in w)} naming no passage)")

    def close(self) -> None:
        self.lm.close()

    def manifest(self) -> dict:
        import yaml

        w, template = self.windows, yaml.safe_dump(self.template, sort_keys=True).encode()
        return {**super().manifest(), **self.lm.manifest(), "template": self.settings.template,
                "template_sha256": hashlib.sha256(template).hexdigest()[:16],
                "sampling": {**{k: v for k, v in self.lm.sampling(0).items() if not k.startswith("max")},
                             "max_new_tokens": "tokens of '[1] > ... [n]' + 2"},
                "windows": len(w), "cached_calls": sum(x.cached for x in w),
                "unparsable_windows": sum(not x.parsed for x in w), "passages_cut": sum(x.passages_cut for x in w),
                "cache": str(self.cache.path) if self.cache.path else None}
