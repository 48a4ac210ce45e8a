"""The local engine of the LLM rankers (kit/llm_engine.py): a causal LM (hub id, directory or
offline GGUF package) on transformers. Answers are greedy, one prompt at a time; first-token
scores are next-token logits of length-sorted, left-padded batches.

The tokenizer and config load first (:meth:`ChatLM.open`), so that a ranker can check its
settings against them before the weights load (:meth:`ChatLM.load_weights`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LlmrankError
from .llm_engine import LlmEngine, Prompt

TOKEN_BUDGET = {"cpu": 2048}  # prompt tokens in one batch of next-token logits: small batches are fastest on
DEFAULT_BUDGET = 8192         # a CPU (SmolLM2 on 2 cores, DL19 pairs: 5.2 pairs/s at 2,048, 3.8 at 8,192)


def tokenizer_and_config(name: str) -> tuple:
    """(tokenizer, config, weight files) of a causal LM: hub id, directory or offline GGUF name."""
    from transformers import AutoConfig, AutoTokenizer

    from .causal_lm import loaded
    from .resolve import resolve_causal_lm

    path, gguf = resolve_causal_lm(name)
    tokenizer, config = loaded(name, AutoTokenizer), loaded(name, AutoConfig)
    if not any(a.endswith("ForCausalLM") for a in getattr(config, "architectures", None) or ()) and not gguf:
        raise LlmrankError(f"model {name!r} is a {config.model_type}, not a causal LM")
    return tokenizer, config, str(Path(path) / gguf) if gguf else path


class ChatLM(LlmEngine):
    def __init__(self, name: str, tokenizer, config, files: str, device: str, dtype):
        super().__init__()
        self.name, self.tokenizer, self.config, self.device, self.dtype = name, tokenizer, config, device, dtype
        self.model = None
        from .resolve import files_key

        # what decides an answer besides the prompt: the weights (their files) and the precision
        self.identity = f"{name}:{files_key(files)}:{str(dtype or 'float32').removeprefix('torch.')}"
        self.context = int(getattr(config, "max_position_embeddings", 0) or 1 << 20)

    @classmethod
    def open(cls, name: str, runtime) -> "ChatLM":
        """Tokenizer and config only (a second); :meth:`load_weights` brings the model."""
        from .devices import place

        tokenizer, config, files = tokenizer_and_config(name)
        device, dtype = place(runtime)
        return cls(name, tokenizer, config, files, device, dtype)

    def load_weights(self) -> "ChatLM":
        from .causal_lm import load_causal_model

        if self.model is None:
            self.model = load_causal_model(self.name, self.device, self.dtype)
        return self

    # -- calls -------------------------------------------------------------------------------

    def sampling(self, max_new_tokens: int) -> dict:
        return {"engine": "transformers", "greedy": True, "max_new_tokens": max_new_tokens}

    def answers(self, prompts: list[Prompt], on_answer) -> None:
        for i, p in enumerate(prompts):
            on_answer(i, self.answer(p.ids, p.max_new_tokens))

    def first_token_scores(self, prompts: list[Prompt], words: tuple[str, str], batch_size: int) -> np.ndarray:
        tokens = [self.single_token(w, f"--{side}-token") for w, side in zip(words, ("true", "false"))]
        return self.next_token_logits([p.ids for p in prompts], tokens, batch_size).astype(np.float64)

    def manifest(self) -> dict:
        return {**super().manifest(), "backend": "transformers"}

    def answer(self, ids: list[int], max_new_tokens: int) -> str:
        """The greedy continuation of one prompt (one at a time: an answer never depends on what
        it was batched with, so a resumed run repeats an uninterrupted one)."""
        import torch

        model = self.load_weights().model
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids], device=self.device), attention_mask=torch.ones(
                1, len(ids), dtype=torch.long, device=self.device), max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        new = out[0, len(ids):].tolist()
        self.calls += 1
        self.prompt_tokens += len(ids)
        self.completion_tokens += len(new)
        return self.tokenizer.decode(new, skip_special_tokens=True)

    def next_token_logits(self, prompts: list[list[int]], tokens: list[int], batch_size: int) -> np.ndarray:
        """float32 [prompts, tokens]: each prompt's next-token logits of ``tokens``, in
        length-sorted, left-padded token-budget batches (the last position is always real)."""
        import torch

        from .batching import token_batches

        model = self.load_weights().model
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        out = np.empty((len(prompts), len(tokens)), dtype=np.float32)
        lengths = np.array([len(p) for p in prompts], dtype=np.int64)
        with torch.inference_mode():
            for idx in token_batches(lengths, batch_size, TOKEN_BUDGET.get(str(self.device), DEFAULT_BUDGET)):
                width = int(lengths[idx].max())
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    ids[row, width - lengths[i]:] = torch.tensor(prompts[i])
                    mask[row, width - lengths[i]:] = 1
                positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as unpadded: the padding takes no position
                logits = model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                               position_ids=positions.to(self.device), logits_to_keep=1,
                               use_cache=False).logits[:, -1, tokens]  # no KV cache to hold
                out[idx] = logits.float().cpu().numpy()
        self.calls += len(prompts)
        self.prompt_tokens += int(lengths.sum())
        return out
