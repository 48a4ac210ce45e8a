"""``monot5``: a T5 reranker trained to answer ``Query: q Document: d Relevant:`` with ``true``
or ``false`` (Nogueira, Jiang, Pradeep and Lin, 2020: castorini/monot5-*-msmarco), a pair scored
by the log-probability of ``true`` against ``false`` at the first decoder step, as pygaggle and
rank_llm compute it. Inputs are cut at ``--max-length`` tokens (512, the models' training
length), scored in length-sorted token-budget batches, one encoder pass and one decoder step.
"""
from __future__ import annotations

import numpy as np

from ..errors import LlmrankError
from . import register
from .base import PassageRanker, Runtime

INPUT_TOKENS = 512


@register("monot5")
class MonoT5(PassageRanker):

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             **options) -> "MonoT5":
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        from ..kit.devices import place
        from ..kit.resolve import load_error, resolve_model

        ranker = cls(None, runtime)  # the runtime checked before any file is read
        path = resolve_model(model)
        try:
            config = AutoConfig.from_pretrained(path)
            if not config.is_encoder_decoder:
                raise LlmrankError(f"model {model!r} is a {config.model_type}, not an encoder-decoder (T5)")
            tokenizer = AutoTokenizer.from_pretrained(path)
            ranker.tokens = [ranker._one_token(tokenizer, word, model) for word in ("false", "true")]
            device, dtype = place(runtime)
            lm = AutoModelForSeq2SeqLM.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise load_error(model, exc) from None
        if dtype is not None:
            lm.to(dtype)
        ranker.tokenizer, ranker.lm = tokenizer, lm.to(device).eval()
        ranker.model_name, ranker.device, ranker.batch_size = model, device, batch_size
        ranker.max_length = max_length or INPUT_TOKENS
        return ranker

    @staticmethod
    def _one_token(tokenizer, word: str, model: str) -> int:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise LlmrankError(f"model {model!r}'s tokenizer splits {word!r} into {len(ids)} tokens: not a monoT5")
        return ids[0]

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        import torch

        from ..kit.batching import padded_batches, truncated

        texts = [f"Query: {q} Document: {d} Relevant:" for q, d in zip(queries, passages)]
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        self.truncated += truncated(self.tokenizer, enc, self.max_length, texts)
        out = np.empty(len(texts), dtype=np.float64)
        start = self.lm.config.decoder_start_token_id
        with torch.inference_mode():
            for idx, batch in padded_batches(self.tokenizer, enc, self.batch_size):
                batch = batch.to(self.device)
                first = torch.full((len(idx), 1), start, dtype=torch.long, device=self.device)
                logits = self.lm(**batch, decoder_input_ids=first).logits[:, 0, self.tokens].float()
                out[idx] = torch.log_softmax(logits, dim=-1)[:, 1].cpu().numpy()
        return out
