"""``llm-pointwise`` (``--kind pointwise``): a causal LM asked, for each (query, passage), whether
the passage is relevant, scored by the log-odds of its first answer token: ``logit(yes) -
logit(no)`` at the prompt's last position. This is how Qwen3-Reranker-style models rerank, and
what sentence-transformers' ``CrossEncoder`` with a ``LogitScore`` head computes for a causal LM.

The prompt is the user's message in the model's chat template (``--no-chat``: raw text), with
``{query}`` and ``{passage}`` filled in; the passage is cut at ``--max-length`` tokens first.
On transformers, prompts are scored in length-sorted, left-padded token-budget batches
(kit/chat_lm.py), one forward pass each, logits of the last position only; from a server
(``--backend openai``), by the top log-probabilities of a one-token answer, whose difference is
the same log-odds (the softmax's normaliser cancels).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import LlmrankError
from . import register
from .base import PassageRanker, Runtime, ServedFields, setting

SYSTEM = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
          'Note that the answer can only be "yes" or "no".')
PROMPT = ("<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n"
          "<Query>: {query}\n<Document>: {passage}")
PASSAGE_TOKENS = 300  # default cut of each passage (--max-length)
_FIELD = re.compile(r"{(query|passage)}")


@dataclass
class PointwiseSettings(ServedFields):
    prompt: str = setting(PROMPT, "The question per pair: text with {query} and {passage}, or a file holding it.",
                          scoring=True)
    system: str = setting(SYSTEM, "System message before the prompt (chat only; empty: none).", scoring=True)
    chat: bool = setting(True, "Put the prompt in the model's chat template as the user's message "
                               "(--no-chat: the prompt is the model's whole input).", scoring=True)
    true_token: str = setting("yes", "The answer token meaning relevant (one token).", scoring=True)
    false_token: str = setting("no", "The answer token meaning not relevant (one token).", scoring=True)


def read_prompt(text: str, fields: tuple[str, ...]) -> str:
    """A prompt given inline or as a file; every field must appear in it."""
    from pathlib import Path

    path = Path(text)
    if "{" not in text and path.is_file():
        text = path.read_text()
    missing = [f for f in fields if "{" + f + "}" not in text]
    if missing:
        raise LlmrankError(f"--prompt must hold {', '.join('{' + f + '}' for f in fields)}; "
                           f"{', '.join('{' + f + '}' for f in missing)} is missing")
    return text


@register("llm-pointwise", aliases=("pointwise",))
class LlmPointwise(PassageRanker):
    Settings = PointwiseSettings
    served = True

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             **options) -> "LlmPointwise":
        from ..kit.llm_engine import open_engine
        from . import settings_for

        ranker = cls(settings_for("llm-pointwise", **options), runtime)
        s = ranker.settings
        ranker.template = read_prompt(s.prompt, ("query", "passage"))
        lm = open_engine(model, runtime, s)  # no weights yet: every check first
        if s.chat and lm.tokenizer is not None and not lm.has_chat_template:
            raise LlmrankError(f"model {model!r} has no chat template: pass --no-chat and a --prompt that is the "
                               f"whole input")
        ranker.tokens = [lm.single_token(s.true_token, "--true-token"), lm.single_token(s.false_token, "--false-token")]
        ranker.lm = lm  # the local engine loads its weights at the first batch
        ranker.model_name, ranker.device, ranker.batch_size = model, lm.device, batch_size
        ranker.max_length = max_length or PASSAGE_TOKENS
        return ranker

    def prompt(self, query: str, passage: str):
        """The model's whole input for one pair (kit/llm_engine.Prompt)."""
        cut, was_cut = self.lm.cut(passage, self.max_length)
        self.truncated += was_cut
        values = {"query": query, "passage": cut}
        user = _FIELD.sub(lambda m: values[m.group(1)], self.template)  # one pass: a query's own braces stay
        if not self.settings.chat:
            return self.lm.prompt(user)
        system = [{"role": "system", "content": self.settings.system}] if self.settings.system else []
        return self.lm.prompt(system + [{"role": "user", "content": user}])

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        prompts = [self.prompt(q, p) for q, p in zip(queries, passages)]
        scores = self.lm.first_token_scores(prompts, (self.settings.true_token, self.settings.false_token),
                                            self.batch_size)
        return scores[:, 0] - scores[:, 1]

    def close(self) -> None:
        self.lm.close()

    def manifest(self) -> dict:
        return {**super().manifest(), **self.lm.manifest(), "prompt": self.template, "true_token_id": self.tokens[0],
                "false_token_id": self.tokens[1]}
