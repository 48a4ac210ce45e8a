"""A frozen causal LM's last-token hidden states at one layer, as features (Language Ranker).

For a query (the instruction) and its candidates (LLM answers, passages) the LM reads the chat
prompt of the query's user turn, then each candidate as the assistant's turn. The features are
the state of the prompt's last token (``i``) and of each candidate's last token, the turn's end
(``r_k``), after layer ``round(fraction x L)``.

Only the layers up to that one run (the stack is cut there, its final norm dropped below the
top, its MLP run on the read positions only), the prompt runs once per query and its KV cache is
shared by the candidates, which run in length-sorted, token-budget batches (right-padded: causal
attention keeps padding out of every real token's state). A CPU runs at its matmul peak from
about 512 tokens a batch, so there the budget stays that small: padding, not batch size, is what
costs (2,048 padded DL's passages by 11% and ran 17% slower); a GPU takes 4,096. States are
cached on disk (``$LLMRANK_CACHE/lm-states``), one file per LM, layer, token limit and query,
holding the states of every candidate text seen so far; bf16 or fp16 states in a directory of
their own. On a CPU, jobs of more than half a minute run in worker processes, one single-thread
process per core up to four (``kit/lm_workers.py``: on two cores 25-30% more tokens a second than
one process).
"""
from __future__ import annotations

import copy
import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..errors import LlmrankError, Note
from ..manifest import numerics_key
from .batching import token_batches
from .resolve import files_key, resolve_causal_lm


PARALLEL_CHARACTERS = 100_000  # ~25k tokens, ~40 s on 2 cores: worth starting workers (~15 s, then kept)


def state_layer(fraction: float, layers: int) -> int:
    """The layer a depth fraction reads: round(fraction x L), at least 1."""
    if not 0 < fraction <= 1:
        raise LlmrankError(f"--layer-fraction must be in (0, 1], not {fraction:g}")
    return max(1, round(fraction * layers))


def _half(*arrays: np.ndarray):
    """Arrays rounded to fp16, as the disk cache keeps them: a state read back equals the state
    first returned."""
    return [a.astype(np.float16).astype(np.float32) for a in arrays]


def _rows(known: dict[bytes, np.ndarray], hashes: list[bytes], hidden: int) -> np.ndarray:
    """The candidate states of ``hashes``, in order, from a query's cached states."""
    return np.stack([known[h] for h in hashes]) if hashes else np.zeros((0, hidden), np.float32)


def _text_hash(text: str) -> bytes:
    """Hex, not the raw digest: numpy's fixed-width bytes drop trailing NULs."""
    return hashlib.sha1(text.encode()).hexdigest().encode()


def _shape(lm: str) -> dict:
    """Layers and hidden size of a causal LM, from its config (a GGUF file's as kept)."""
    from transformers import AutoConfig

    from .causal_lm import loaded

    config = loaded(lm, AutoConfig)
    if not getattr(config, "is_decoder", True) or config.model_type in ("bert", "roberta", "t5"):
        raise LlmrankError(f"model {lm!r} is a {config.model_type}, not a causal LM")
    return {"layers": config.num_hidden_layers, "hidden": config.hidden_size}


class LmStates:
    """Last-token states of one LM at one layer; the LM loads on first use."""

    def __init__(self, lm: str, fraction: float, device: str = "cpu", dtype=None, max_length: int = 256,
                 max_tokens: int | None = None, batch_size: int = 256):
        self.lm_name, self.fraction, self.device, self.dtype, self.max_length = lm, fraction, device, dtype, max_length
        self.max_tokens = max_tokens or (512 if str(device) == "cpu" else 4096)
        self.batch_size = batch_size  # most candidates in one forward pass (within the token budget)
        root = Path(os.environ.get("LLMRANK_CACHE", Path.home() / ".cache" / "llmrank"))
        path, gguf = resolve_causal_lm(lm)
        files = str(Path(path) / gguf) if gguf else path
        shape = _shape(lm)
        self.layers, self.hidden = shape["layers"], shape["hidden"]
        self.layer = state_layer(fraction, self.layers)
        self.key = files_key(files, (self.layer, max_length))  # what a trained ranker was trained on
        # bf16 or fp16 states (a GPU's default) differ from fp32 ones by ~1%: a cache of their own
        precision = "" if dtype is None or str(dtype) == "torch.float32" else "-" + str(dtype).removeprefix("torch.")
        self.cache_dir = root / "lm-states" / f"{self.key}{precision}-{numerics_key()}"  # bytes: kernels', ISA's
        self.tokenizer = self.model = self.top_mlp = self.workers = None
        self.computed_tokens = 0  # tokens run through the LM (cache misses) in this process

    def _load(self) -> None:
        import torch.nn as nn

        from .causal_lm import load_causal_lm
        from .read_positions_mlp import ReadPositionsMlp

        self.tokenizer, self.model = load_causal_lm(self.lm_name, self.device, self.dtype)
        body = self.model.model
        body.config.num_hidden_layers = self.layer  # the stack runs (and caches) these layers only
        if getattr(body.config, "layer_types", None):
            body.config.layer_types = body.config.layer_types[:self.layer]
        body.layers = body.layers[:self.layer]
        if self.layer < self.layers:
            body.norm = nn.Identity()  # hidden_states[k] below the top is the layer's raw output
        top = body.layers[-1]
        self.top_mlp = top.mlp = ReadPositionsMlp(top.mlp) if hasattr(top, "mlp") else None
        template = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": "\x01"}, {"role": "assistant", "content": "\x00"}], tokenize=False)
        head, _, tail = template.partition("\x00")
        self.turn_end = self._tokens(tail.rstrip()) or [self.tokenizer.eos_token_id]
        self.prompt_end = head.split("\x01", 1)[1]

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt(self, query: str) -> list[int]:
        """Token ids of the query's user turn and the assistant turn's opening."""
        return self.tokenizer.apply_chat_template([{"role": "user", "content": query}], tokenize=True,
                                                  add_generation_prompt=True, return_dict=True)["input_ids"]

    def candidate(self, text: str) -> list[int]:
        """A candidate's tokens, cut at max_length, and the turn's end."""
        return self._tokens(text)[:self.max_length] + self.turn_end

    def compute(self, query: str, candidates: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(i float32 [hidden], r float32 [candidates, hidden]) without the disk cache."""
        import torch

        from .causal_lm import cache_keyword

        if self.model is None:
            self._load()
        body = self.model.model
        keyword = cache_keyword(body)
        prefix = self.prompt(query)
        suffixes = [self.candidate(c) for c in candidates]
        r = np.zeros((len(candidates), self.hidden), dtype=np.float32)
        with torch.inference_mode():
            self._read([0], [len(prefix) - 1])
            out = body(input_ids=torch.tensor([prefix], device=self.device), use_cache=True)
            i = out.last_hidden_state[0, -1].float().cpu().numpy()
            lengths = np.array([len(s) for s in suffixes])
            for idx in token_batches(lengths, self.batch_size, max(self.max_tokens, int(lengths.max(initial=1)))):
                longest = int(lengths[idx].max())
                ids = torch.zeros((len(idx), longest), dtype=torch.long)
                for row, j in enumerate(idx):
                    ids[row, :lengths[j]] = torch.tensor(suffixes[j])
                cache = copy.deepcopy(out.past_key_values)
                cache.batch_repeat_interleave(len(idx))
                positions = torch.arange(len(prefix), len(prefix) + longest, device=self.device).expand(len(idx), -1)
                rows = torch.arange(len(idx), device=self.device)
                last = torch.as_tensor(lengths[idx] - 1, device=self.device)
                self._read(rows, last)
                hidden = body(input_ids=ids.to(self.device), position_ids=positions, use_cache=True,
                              **{keyword: cache}).last_hidden_state
                r[idx] = hidden[rows, last].float().cpu().numpy()
        self.computed_tokens += len(prefix) + int(lengths.sum())
        return i, r

    def _read(self, rows, positions) -> None:
        """The positions the next forward pass's states are taken from (the top MLP's only)."""
        if self.top_mlp is not None:
            self.top_mlp.read = (rows, positions)

    def _cached(self, query: str) -> tuple[Path, np.ndarray | None, dict[bytes, np.ndarray]]:
        """The query's cache file, its prompt state (None if not cached) and candidate states."""
        path = self.cache_dir / f"{hashlib.sha256(query.encode()).hexdigest()[:32]}.npz"
        if not path.exists():
            return path, None, {}
        try:
            stored = dict(np.load(path))
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            warnings.warn(f"{path}: a damaged cache entry; computing it again", Note)
            return path, None, {}
        if str(stored["lm"]) != self.key:
            raise LlmrankError(f"{path}: a cache of another LM or layer ({stored['lm']}, not {self.key}); remove it")
        known = dict(zip(stored["hashes"].tolist(), stored["r"].astype(np.float32)))
        return path, stored["i"].astype(np.float32), known  # already fp16-rounded

    def states(self, query: str, candidates: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`compute` through the disk cache: only candidates not cached yet run."""
        from ..formats.io import atomic_output

        path, i, known = self._cached(query)
        hashes = [_text_hash(c) for c in candidates]
        missing = sorted({h: n for n, h in enumerate(hashes) if h not in known}.values())
        if missing or i is None:
            i, fresh = _half(*self.compute(query, [candidates[n] for n in missing]))
            known.update((hashes[n], row) for n, row in zip(missing, fresh))
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path, "wb") as f:
                np.savez(f, lm=np.array(self.key), i=i.astype(np.float16), hashes=np.array(list(known), dtype="S40"),
                         r=np.stack(list(known.values())).astype(np.float16) if known else
                         np.zeros((0, self.hidden), np.float16))
        return i, _rows(known, hashes, self.hidden)

    def states_many(self, work: list[tuple[str, list[str]]], done=None) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`states` of many queries; ``done(1)`` as each is ready. On a CPU, a job of more
        than about half a minute runs in worker processes (``kit/lm_workers.py``), kept for the
        next call."""
        from .lm_workers import Workers, cpu_workers

        out: list = [None] * len(work)
        todo: dict[str, list[str]] = {}
        for n, (query, candidates) in enumerate(work):
            _, i, known = self._cached(query)
            hashes = [_text_hash(c) for c in candidates]
            if i is not None and all(h in known for h in hashes):  # read once: no second load below
                out[n] = i, _rows(known, hashes, self.hidden)
                if done:
                    done(1)
            else:
                todo.setdefault(query, []).extend(candidates)
        count, threads = cpu_workers(self.device, 2 * 4 * 12 * self.hidden ** 2 * self.layers)  # ~2x fp32 weights
        if self.workers is None and min(count, len(todo)) > 1 and \
                sum(len(c) for cs in todo.values() for c in cs) >= PARALLEL_CHARACTERS:
            self.workers = Workers((self.lm_name, self.fraction, self.device, self.dtype, self.max_length,
                                    self.max_tokens, self.batch_size), count, threads)
        parallel = bool(todo) and self.workers is not None
        if parallel:
            self.computed_tokens += self.workers.fill({q: list(dict.fromkeys(cs)) for q, cs in todo.items()}, done)
        for n, (query, candidates) in enumerate(work):
            if out[n] is None:
                out[n] = self.states(query, candidates)
                if done and not parallel:
                    done(1)
        return out

    def manifest(self) -> dict:
        return {"lm": self.lm_name, "layer": self.layer, "layers": self.layers, "hidden": self.hidden,
                "max_length": self.max_length, "lm_key": self.key}
