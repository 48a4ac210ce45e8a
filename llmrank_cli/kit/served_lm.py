"""A served model as an LLM ranker's engine (``--backend openai``): any OpenAI-compatible server
(``vllm serve``, SGLang, llama.cpp's server, Ollama, a hosted API), through the OpenAI SDK.

The SDK does the transport: a timeout per request, retries with exponential backoff on
connection errors, timeouts, 429 and 5xx. Up to ``--concurrency`` requests are in flight (a
thread pool: the prompts of one call are independent, e.g. windows of different queries);
each answer is handed back as it arrives, so the response cache keeps it even when a later
request fails. A failure after the retries is one line naming the URL (a ServiceError: the
job's finished work stays for ``--resume``). The API key comes from the environment variable
``--api-key-env`` names, never from a flag, and is written nowhere.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

import numpy as np

from ..errors import LlmrankError, ServiceError
from ..progress import note
from .llm_engine import LlmEngine, Prompt

TOP_LOGPROBS = 20  # the most OpenAI's API lists; a word outside them scores as the 20th (an upper bound)
DEFAULT_CONTEXT = 4096  # rank_llm's default context for a model whose size nobody states


class ServedLM(LlmEngine):
    def __init__(self, client, base_url: str, name: str, served, tokenizer, context: int):
        super().__init__()
        self.client, self.base_url, self.name, self.tokenizer, self.context = client, base_url, name, tokenizer, context
        self.identity = f"openai:{base_url}:{name}"
        self.settings = served
        self.pool = ThreadPoolExecutor(max_workers=served.concurrency, thread_name_prefix="llmrank-request")
        self.scored = self.unlisted = 0  # pointwise prompts, and their words outside the top log-probs

    @classmethod
    def open(cls, model: str, served) -> "ServedLM":
        """Connect, check that the server serves ``model`` (one line and nothing written if not),
        and find a tokenizer to count tokens with (``--tokenizer``, else ``model``'s, else none)."""
        import openai

        if not served.base_url:
            raise LlmrankError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1 for `vllm serve`, "
                               "https://api.openai.com/v1)")
        base_url = served.base_url.rstrip("/")
        client = openai.OpenAI(base_url=base_url, api_key=os.environ.get(served.api_key_env) or "none",
                               timeout=served.timeout, max_retries=served.retries)
        try:
            listed = {m.id: m for m in client.with_options(max_retries=min(served.retries, 1)).models.list()}
        except openai.OpenAIError as exc:
            raise _failure(base_url, exc, served) from None
        if model not in listed:
            raise LlmrankError(f"{base_url} serves {', '.join(sorted(listed)[:8]) or 'no model'}, not {model!r}")
        tokenizer, config = _tokenizer(served.tokenizer or model, bool(served.tokenizer))
        context = (served.context or getattr(listed[model], "max_model_len", None)  # vLLM lists it
                   or getattr(config, "max_position_embeddings", None) or DEFAULT_CONTEXT)
        return cls(client, base_url, model, served, tokenizer, int(context))

    def sampling(self, max_new_tokens: int) -> dict:
        return {"engine": "openai", "temperature": 0, "max_tokens": max_new_tokens}

    def _create(self, prompt: Prompt, **extra):
        """One request: a chat completion for messages, a completion for a raw text."""
        if isinstance(prompt.content, str):
            return self.client.completions.create(model=self.name, prompt=prompt.content, temperature=0,
                                                  max_tokens=prompt.max_new_tokens, **extra)
        return self.client.chat.completions.create(model=self.name, messages=prompt.content, temperature=0,
                                                   max_tokens=prompt.max_new_tokens, **extra)

    def _each(self, prompts: list[Prompt], ask, on_result) -> None:
        """``ask(prompt)`` for every prompt, ``--concurrency`` at a time; ``on_result(i, result)``
        in this thread as each arrives. After a failure no new request starts, those in flight
        finish (their results are kept), then the failure is raised as one line."""
        import openai

        futures = {self.pool.submit(ask, p): i for i, p in enumerate(prompts)}
        pending, failure = set(futures), None
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is None:
                    on_result(futures[future], future.result())
                elif failure is None:
                    failure = future.exception()
                    for other in pending:
                        other.cancel()
        if failure is not None:
            if isinstance(failure, openai.OpenAIError):
                raise _failure(self.base_url, failure, self.settings) from None
            raise failure

    def answers(self, prompts: list[Prompt], on_answer) -> None:
        def counted(i, response):
            self._count(response)
            on_answer(i, response.choices[0].message.content if hasattr(response.choices[0], "message")
                      else response.choices[0].text)

        self._each(prompts, self._create, counted)

    def first_token_scores(self, prompts: list[Prompt], words: tuple[str, str], batch_size: int) -> np.ndarray:
        out = np.empty((len(prompts), 2), dtype=np.float64)

        def ask(prompt: Prompt):
            if isinstance(prompt.content, str):
                return self._create(prompt, logprobs=TOP_LOGPROBS)
            return self._create(prompt, logprobs=True, top_logprobs=TOP_LOGPROBS)

        def scored(i, response):
            self._count(response)
            listed = _top_logprobs(response.choices[0])
            if not listed:
                raise LlmrankError(f"{self.base_url} gives no log-probabilities for {self.name}; the pointwise kind "
                                   f"reads them (vLLM, SGLang and llama.cpp's server give them)")
            floor = min(listed.values())
            self.scored += 1
            self.unlisted += sum(w not in listed for w in words)
            out[i] = [listed.get(w, floor) for w in words]

        self._each(prompts, ask, scored)
        return out

    def _count(self, response) -> None:
        self.calls += 1
        if response.usage is not None:
            self.prompt_tokens += response.usage.prompt_tokens or 0
            self.completion_tokens += response.usage.completion_tokens or 0

    def manifest(self) -> dict:
        s = self.settings
        counted = (s.tokenizer or self.name) if self.tokenizer is not None else "estimate (4 characters a token)"
        return {**super().manifest(), "backend": "openai", "base_url": self.base_url, "served_model": self.name,
                "tokenizer": counted,
                "context": self.context, "concurrency": s.concurrency, "timeout_s": s.timeout, "retries": s.retries,
                "api_key_env": s.api_key_env,
                **({"words_outside_top_logprobs": self.unlisted} if self.scored else {})}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _tokenizer(name: str, asked: bool):
    """(tokenizer, config) of ``name`` where it loads; (None, None) with a note where it does not
    (a hosted model's tokenizer may be private), unless ``--tokenizer`` asked for it."""
    from .chat_lm import tokenizer_and_config

    try:
        tokenizer, config, _ = tokenizer_and_config(name)
        return tokenizer, config
    except LlmrankError as exc:
        if asked:
            raise
        note(f"no tokenizer for {name!r} ({str(exc)[:80]}...): prompt tokens are estimated at 4 characters each; "
             f"pass --tokenizer for exact counts")
        return None, None


def _top_logprobs(choice) -> dict[str, float]:
    """token -> log-probability of the first generated token's top candidates, from a chat
    completion (``logprobs.content[0].top_logprobs``) or a completion (``top_logprobs[0]``)."""
    lp = choice.logprobs
    if lp is None:
        return {}
    if getattr(lp, "content", None):
        return {t.token: t.logprob for t in lp.content[0].top_logprobs or ()}
    tops = getattr(lp, "top_logprobs", None)
    return dict(tops[0]) if tops else {}


def _failure(base_url: str, exc, served) -> ServiceError:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        why = f"no answer within {served.timeout:g} s"
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        why = f"cannot connect ({str(cause).splitlines()[0][:120] if str(cause) else type(cause).__name__})"
    elif isinstance(exc, openai.APIStatusError):
        why = f"HTTP {exc.status_code} ({str(exc.message).splitlines()[0][:160]})"
    else:
        why = str(exc).splitlines()[0][:160]
    return ServiceError(f"{base_url}: {why}, after {served.retries} retries")
