"""``listwise`` (RankGPT / RankZephyr): a causal LM reads a window of passages and answers with
their order, ``[2] > [1] > ...``; windows slide from the bottom of the list to the top (window
20, stride 10 by default), so the best passages can climb the whole list in one pass.

The algorithm, prompts and answer reading are rank_llm's (kit/listwise_prompts.py): the same
windows, the same messages byte for byte, the same permutation of a given answer; an answer that
names no passage of its window leaves the window as it was and is counted. Answers are greedy,
one window at a time, and kept in the response cache (kit/response_cache.py), so a rerun makes
no call and a killed run resumed with ``--resume`` repeats the uninterrupted run's bytes.
A query's scores are its final order (the top passage scores n, the last 1).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import LlmrankError
from . import register
from .base import PassageRanker, Runtime, Settings, setting


@dataclass
class ListwiseSettings(Settings):
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

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             **options) -> "Listwise":
        from ..kit.chat_lm import ChatLM
        from ..kit.listwise_prompts import load_template
        from ..kit.response_cache import ResponseCache, default_dir
        from . import settings_for

        ranker = cls(settings_for("listwise", **options), runtime)
        s = ranker.settings
        ranker.template = load_template(s.template)
        lm = ChatLM.open(model, runtime)  # tokenizer and config: every check before the weights load
        if not lm.has_chat_template:
            raise LlmrankError(f"model {model!r} has no chat template; listwise prompts are chats")
        ranker.lm = lm
        smallest = len(ranker._ids(ranker._messages("q", ["x"] * s.window, 1))) + ranker._answer_tokens(s.window)
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

    def _ids(self, messages: list[dict]) -> list[int]:
        return self.lm.ids(self.lm.chat_text(messages))

    def _answer_tokens(self, size: int) -> int:
        from ..kit.listwise_prompts import answer_tokens

        return answer_tokens(self.lm.ids, size)

    def fitted(self, query: str, passages: list[str]) -> tuple[list[dict], int, list[int]]:
        """The window's messages with passages cut to the most words that fit the context
        (rank_llm's loop: fewer words by the excess over 4 tokens a passage), those words, and
        the prompt's token ids."""
        words, limit = self.settings.passage_words, self.lm.context - self._answer_tokens(len(passages))
        while True:
            messages = self._messages(query, passages, words)
            ids = self._ids(messages)
            if len(ids) <= limit or words == 1:
                return messages, words, ids
            words = max(1, words - max(1, (len(ids) - limit) // (len(passages) * 4)))

    def rank_window(self, query: str, passages: list[str]) -> list[int]:
        """The window's new order (0-based, into ``passages``)."""
        from ..kit.listwise_prompts import permutation
        from ..kit.response_cache import key_of

        messages, words, ids = self.fitted(query, passages)
        cut = sum(len(p.split()) > words for p in passages)
        budget = self._answer_tokens(len(passages))
        key = key_of(self.lm.identity, messages, {"engine": "transformers", "greedy": True, "max_new_tokens": budget})
        answer = self.cache.get(key)
        cached = answer is not None
        if not cached:
            answer = self.lm.answer(ids, budget)
            self.cache.put(key, answer)
        order, parsed = permutation(answer, len(passages))
        self.windows.append(Window(cached, parsed, cut))
        return order

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

    def rerank(self, query: str, passages: list[str]) -> list[int]:
        """The list's order after every pass (indices into ``passages``)."""
        order = list(range(len(passages)))
        for _ in range(self.settings.passes):
            for a, b in self.spans(len(passages)):
                if b - a < 2:  # one passage has one order: no call
                    continue
                moved = self.rank_window(query, [passages[i] for i in order[a:b]])
                order[a:b] = [order[a + j] for j in moved]
        return order

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        """Scores from each list's final order; the weights load at the first answer the cache lacks."""
        out = []
        for query, passages in zip(queries, candidates):
            scores = np.empty(len(passages), dtype=np.float64)
            scores[self.rerank(query, passages)] = np.arange(len(passages), 0, -1, dtype=np.float64)
            out.append(scores)
        return out

    def report(self, stats) -> str:
        w = self.windows
        return (f"{len(w)} windows ({sum(x.cached for x in w)} answers from the cache, "
                f"{sum(not x.parsed for x in w)} naming no passage)")

    def manifest(self) -> dict:
        import yaml

        w = self.windows
        return {**super().manifest(), "backend": "transformers", "model_identity": self.lm.identity,
                "template": self.settings.template, "template_sha256": hashlib.sha256(
                    yaml.safe_dump(self.template, sort_keys=True).encode()).hexdigest()[:16],
                "sampling": {"greedy": True, "max_new_tokens": "tokens of '[1] > ... [n]' + 2"},
                "windows": len(w), "calls": self.lm.calls, "cached_calls": sum(x.cached for x in w),
                "prompt_tokens": self.lm.prompt_tokens, "completion_tokens": self.lm.completion_tokens,
                "unparsable_windows": sum(not x.parsed for x in w), "passages_cut": sum(x.passages_cut for x in w),
                "cache": str(self.cache.path) if self.cache.path else None}
