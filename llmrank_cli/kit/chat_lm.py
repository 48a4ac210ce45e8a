"""The local engine of the LLM rankers: a causal LM (hub id, directory or offline GGUF package)
on transformers, asked in two ways: a greedy answer to a chat prompt (listwise), and the
next-token logits of a batch of prompts (pointwise). A served engine would be another class
with the same three methods; the rankers see only these.

The tokenizer and config load first (:meth:`ChatLM.open`), so that a ranker can check its
settings against them before the weights load (:meth:`ChatLM.load_weights`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LlmrankError

TOKEN_BUDGET = {"cpu": 2048}  # prompt tokens in one batch of next-token logits: small batches are fastest on
DEFAULT_BUDGET = 8192         # a CPU (SmolLM2 on 2 cores, DL19 pairs: 5.2 pairs/s at 2,048, 3.8 at 8,192)


class ChatLM:
    def __init__(self, name: str, tokenizer, config, files: str, device: str, dtype):
        self.name, self.tokenizer, self.config, self.device, self.dtype = name, tokenizer, config, device, dtype
        self.model = None
        from .resolve import files_key

        # what decides an answer besides the prompt: the weights (their files) and the precision
        self.identity = f"{name}:{files_key(files)}:{str(dtype or 'float32').removeprefix('torch.')}"
        self.context = int(getattr(config, "max_position_embeddings", 0) or 1 << 20)
        self.prompt_tokens = self.completion_tokens = self.calls = 0

    @classmethod
    def open(cls, name: str, runtime) -> "ChatLM":
        """Tokenizer and config only (seconds); :meth:`load_weights` brings the model."""
        import contextlib
        import io

        from transformers import AutoConfig, AutoTokenizer

        from .devices import place
        from .resolve import load_error, resolve_causal_lm

        path, gguf = resolve_causal_lm(name)
        extra = {"gguf_file": gguf} if gguf else {}
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                tokenizer = AutoTokenizer.from_pretrained(path, **extra)
                config = AutoConfig.from_pretrained(path, **extra)
        except (OSError, ValueError) as exc:
            raise load_error(name, exc) from None
        if not any(a.endswith("ForCausalLM") for a in getattr(config, "architectures", None) or ()) and not gguf:
            raise LlmrankError(f"model {name!r} is a {config.model_type}, not a causal LM")
        device, dtype = place(runtime)
        return cls(name, tokenizer, config, str(Path(path) / gguf) if gguf else path, device, dtype)

    def load_weights(self) -> "ChatLM":
        from .causal_lm import load_causal_model

        if self.model is None:
            self.model = load_causal_model(self.name, self.device, self.dtype)
        return self

    # -- prompts -----------------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def chat_text(self, messages: list[dict]) -> str:
        """The messages in the model's chat template, ready for the assistant's answer."""
        if not self.has_chat_template:
            raise LlmrankError(f"model {self.name!r} has no chat template, and this prompt is a chat")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def single_token(self, text: str, flag: str) -> int:
        ids = self.ids(text)
        if len(ids) != 1:
            raise LlmrankError(f"{flag} {text!r} is {len(ids)} tokens for {self.name}'s tokenizer; it must be one")
        return ids[0]

    # -- calls -------------------------------------------------------------------------------

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
