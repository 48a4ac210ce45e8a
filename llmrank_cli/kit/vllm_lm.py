"""vLLM's offline engine as an LLM ranker's engine (``--backend vllm``, ``pip install
'llmrank[vllm]'``, GPU only): the windows of one sliding-window step, across a chunk's queries,
go to ``LLM.chat`` as one batch (vLLM schedules them together); ``--tensor-parallel`` spreads
the model over GPUs. The tokenizer is the model's own, so counts are exact.

Written against vLLM's documented ``LLM.chat`` / ``LLM.generate`` API; no machine this project
tests on has vLLM (it needs a GPU), so only the refusal below runs in the suite.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from ..errors import LlmrankError, MissingExtra
from .llm_engine import LlmEngine, Prompt

TOP_LOGPROBS = 20


class VllmLM(LlmEngine):
    def __init__(self, name: str, llm, tokenizer, context: int, dtype: str):
        super().__init__()
        self.name, self.llm, self.tokenizer, self.context = name, llm, tokenizer, context
        self.identity, self.device = f"vllm:{name}:{dtype}", "cuda"

    @classmethod
    def open(cls, model: str, runtime, served) -> "VllmLM":
        import torch

        if importlib.util.find_spec("vllm") is None:
            raise MissingExtra("--backend vllm", "vllm", "vllm")
        if not torch.cuda.is_available() or runtime.device not in ("auto", "cuda"):
            raise LlmrankError("--backend vllm runs on a CUDA GPU; none is here (use --backend torch, or "
                               "--backend openai with a server)")
        from vllm import LLM

        dtype = {"auto": "auto", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[runtime.dtype]
        llm = LLM(model=model, dtype=dtype, tensor_parallel_size=served.tensor_parallel, seed=0,
                  **({"max_model_len": served.context} if served.context else {}))
        context = llm.llm_engine.model_config.max_model_len
        return cls(model, llm, llm.get_tokenizer(), int(context), dtype)

    def sampling(self, max_new_tokens: int) -> dict:
        return {"engine": "vllm", "temperature": 0, "max_tokens": max_new_tokens}

    def _params(self, max_tokens: int, logprobs: int | None = None):
        from vllm import SamplingParams

        return SamplingParams(temperature=0.0, max_tokens=max_tokens, logprobs=logprobs)

    def _run(self, prompts: list[Prompt], logprobs: int | None = None):
        """One batch through the engine: chats by ``LLM.chat``, raw texts by ``LLM.generate``."""
        params = [self._params(p.max_new_tokens, logprobs) for p in prompts]
        chats = [i for i, p in enumerate(prompts) if not isinstance(p.content, str)]
        texts = [i for i, p in enumerate(prompts) if isinstance(p.content, str)]
        out = [None] * len(prompts)
        if chats:
            for i, r in zip(chats, self.llm.chat([prompts[i].content for i in chats], [params[i] for i in chats],
                                                 use_tqdm=False)):
                out[i] = r
        if texts:
            for i, r in zip(texts, self.llm.generate([prompts[i].content for i in texts], [params[i] for i in texts],
                                                     use_tqdm=False)):
                out[i] = r
        for r in out:
            self.calls += 1
            self.prompt_tokens += len(r.prompt_token_ids or ())
            self.completion_tokens += len(r.outputs[0].token_ids)
        return out

    def answers(self, prompts: list[Prompt], on_answer) -> None:
        for i, r in enumerate(self._run(prompts)):
            on_answer(i, r.outputs[0].text)

    def first_token_scores(self, prompts: list[Prompt], words: tuple[str, str], batch_size: int) -> np.ndarray:
        ids = [self.single_token(w, f"--{side}-token") for w, side in zip(words, ("true", "false"))]
        out = np.empty((len(prompts), 2), dtype=np.float64)
        for i, r in enumerate(self._run(prompts, TOP_LOGPROBS)):
            listed = {t: lp.logprob for t, lp in r.outputs[0].logprobs[0].items()}
            floor = min(listed.values())
            out[i] = [listed.get(t, floor) for t in ids]
        return out

    def manifest(self) -> dict:
        return {**super().manifest(), "backend": "vllm", "context": self.context}
