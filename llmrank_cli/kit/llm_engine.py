"""What the LLM rankers ask of a causal LM, whichever engine runs it: the local transformers
engine (kit/chat_lm.py) or a served model behind an OpenAI-compatible API (kit/served_lm.py).

Two questions: greedy answers to chat prompts (listwise; :meth:`LlmEngine.answers`, a batch of
independent prompts, each answer handed back as soon as it is made so it can be cached), and
the scores of two candidate first tokens (pointwise; :meth:`LlmEngine.first_token_scores`,
whose difference is the log-odds of the two, ``logit(yes) - logit(no)``, on either engine).
Token counts (fitting a prompt to the context, cutting a passage) come from the model's
tokenizer where one loads, else from an estimate (a hosted model's tokenizer may be private).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import LlmrankError

CHARS_PER_TOKEN = 4  # the estimate without a tokenizer (English text, BPE vocabularies)
MESSAGE_TOKENS = 4   # a chat message's framing, estimated likewise


@dataclass
class Prompt:
    """A chat (messages) or a raw text, its token ids where a tokenizer made them, and the most
    tokens its answer may take."""

    content: list[dict] | str
    ids: list[int] | None = None
    max_new_tokens: int = 1


class LlmEngine:
    """Token accounting and the tokenizer-backed helpers both engines share."""

    name: str
    identity: str  # what decides an answer besides the prompt: weights, or server and served model
    context: int
    tokenizer = None
    device = "server"  # where the model runs, as the manifest says it (the local engines: their device)

    def __init__(self):
        self.prompt_tokens = self.completion_tokens = self.calls = 0

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def ids(self, text: str) -> list[int] | None:
        return None if self.tokenizer is None else self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count(self, text: str) -> int:
        ids = self.ids(text)
        return len(ids) if ids is not None else -(-len(text) // CHARS_PER_TOKEN)

    def chat_text(self, messages: list[dict]) -> str:
        """The messages in the model's chat template, ready for the assistant's answer."""
        if not self.has_chat_template:
            raise LlmrankError(f"model {self.name!r} has no chat template, and this prompt is a chat")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt(self, content: list[dict] | str, max_new_tokens: int = 1) -> Prompt:
        """``content`` with its token ids (the chat template applied) where a tokenizer is here."""
        if self.tokenizer is None:
            return Prompt(content, None, max_new_tokens)
        text = content if isinstance(content, str) else self.chat_text(content)
        return Prompt(content, self.ids(text), max_new_tokens)

    def prompt_length(self, prompt: Prompt) -> int:
        if prompt.ids is not None:
            return len(prompt.ids)
        if isinstance(prompt.content, str):
            return self.count(prompt.content)
        return sum(self.count(m["content"]) + MESSAGE_TOKENS for m in prompt.content) + MESSAGE_TOKENS

    def cut(self, text: str, tokens: int) -> tuple[str, bool]:
        """``text`` cut to its first ``tokens`` tokens, and whether it was cut."""
        ids = self.ids(text)
        if ids is None:
            cut = text[:tokens * CHARS_PER_TOKEN]
            return cut, len(cut) < len(text)
        return (text, False) if len(ids) <= tokens else (self.tokenizer.decode(ids[:tokens]), True)

    def single_token(self, text: str, flag: str) -> int | None:
        """The id of ``text`` as one token (None without a tokenizer: the server tells)."""
        ids = self.ids(text)
        if ids is not None and len(ids) != 1:
            raise LlmrankError(f"{flag} {text!r} is {len(ids)} tokens for {self.name}'s tokenizer; it must be one")
        return ids[0] if ids else None

    # -- what each engine answers ------------------------------------------------------------

    def sampling(self, max_new_tokens: int) -> dict:
        """The decoding settings of an answer, as the response cache keys it."""
        raise NotImplementedError

    def answers(self, prompts: list[Prompt], on_answer: Callable[[int, str], None]) -> None:
        """Greedy answers: ``on_answer(i, text)`` for each prompt as its answer is made."""
        raise NotImplementedError

    def first_token_scores(self, prompts: list[Prompt], words: tuple[str, str], batch_size: int) -> np.ndarray:
        """float64 [prompts, 2]: the next-token log-scores of ``words`` after each prompt, on one
        scale per prompt (so that column 0 minus column 1 is their log-odds)."""
        raise NotImplementedError

    def manifest(self) -> dict:
        return {"model_identity": self.identity, "calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}

    def close(self) -> None:
        """Let go of what the engine holds (a client's connections)."""


def open_engine(model: str, runtime, served) -> LlmEngine:
    """The engine ``--backend`` names: transformers (torch), an OpenAI-compatible server
    (openai, with ``served``'s URL and limits) or vLLM's offline engine."""
    if runtime.backend == "openai":
        from .served_lm import ServedLM

        return ServedLM.open(model, served)
    if served.base_url:
        raise LlmrankError("--base-url is for --backend openai (a served model)")
    if runtime.backend == "vllm":
        from .vllm_lm import VllmLM

        return VllmLM.open(model, runtime, served)
    from .chat_lm import ChatLM

    return ChatLM.open(model, runtime)
