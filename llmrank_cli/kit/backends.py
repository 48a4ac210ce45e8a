"""CPU inference backends for encoder rankers (``--backend onnx|openvino``, ``--quantize int8``).

A model is exported once: torch.onnx writes the ranker's forward pass (scoring head or sentence
embedding included) as ONNX; onnxruntime runs it as is or quantised dynamically (int8 weights per
channel, no data: per tensor cost a distilled cross-encoder 0.02 nDCG@10); OpenVINO reads it as
is (fp32 inference) or quantised statically by NNCF on the embedded sample's pairs (fixed and
offline, so an export depends on the model alone). The export is kept in the cache
(``$LLMRANK_CACHE/exports``) under the model files' key, written atomically, checked against its
recorded hash on every load and rebuilt when damaged. The model's tokenizer is kept beside it:
scoring on an export runs the ``tokenizers`` library and the engine, never torch.

Hand-written rather than sentence-transformers' ``backend=``: that goes through optimum, whose
ONNX and OpenVINO packages pin transformers below 4.58 / 5.6, under what llmrank runs on.
"""
from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ..errors import LlmrankError, Note

BACKENDS = ("auto", "torch", "onnx", "openvino")
QUANTIZE = ("none", "int8")
NEEDS = {"onnx": ("onnxruntime", "onnx"), "openvino": ("openvino", "nncf", "onnx")}
FORMAT = 3  # bump when the export's layout changes: older cache entries are then not reused


def pick_backend(backend: str, quantize: str, device: str, dtype: str) -> str:
    """The backend that runs: ``auto`` is OpenVINO on a CPU when installed (fastest measured
    here, docs/benchmarks.md), else onnxruntime, else torch; torch on any other device."""
    if backend not in BACKENDS:
        raise LlmrankError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if quantize not in QUANTIZE:
        raise LlmrankError(f"--quantize must be one of {', '.join(QUANTIZE)}, not {quantize!r}")
    if backend == "auto":
        usable = [b for b in ("openvino", "onnx") if all(importlib.util.find_spec(m) for m in NEEDS[b])]
        backend = usable[0] if device == "cpu" and usable else "torch"
    if backend == "torch":
        if quantize != "none":
            raise LlmrankError("--quantize int8 needs --backend onnx or openvino")
        return backend
    if device != "cpu":
        raise LlmrankError(f"--backend {backend} runs on the CPU; use --device cpu (or --backend torch on {device})")
    if dtype not in ("auto", "fp32"):
        raise LlmrankError(f"--backend {backend} runs fp32 or --quantize int8, not --dtype {dtype}")
    missing = [m for m in NEEDS[backend] if importlib.util.find_spec(m) is None]
    if missing:
        raise LlmrankError(f"--backend {backend} needs {', '.join(missing)}: pip install 'llmrank[{backend}]'")
    return backend


def backend_for(runtime) -> str:
    """The backend a ranker's Runtime runs on, decided without torch where it can be: an explicit
    ``--backend onnx|openvino`` runs on the CPU (``--device auto`` included)."""
    from .devices import pick_device

    device = runtime.device
    if device == "auto":
        device = "cpu" if runtime.backend in NEEDS else pick_device(device)
    return pick_backend(runtime.backend, runtime.quantize, device, runtime.dtype)


class Exported:
    """An exported model run by onnxruntime or OpenVINO: a batch of numpy inputs in, float32 out;
    with the model's tokenizer beside it, so scoring needs neither torch nor transformers."""

    def __init__(self, directory: Path, meta: dict, threads: int):
        self.directory, self.meta = directory, meta
        path = str(directory / meta["file"])
        if meta["backend"] == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            self.provider = self.session.get_providers()[0]
            # ORT's arena, emptied after every batch: without the arena, glibc's heap fragments over
            # batches of every length (DL19: 1.76 GB peak); with it and no shrinking, it keeps the
            # largest batch's buffers (+1 GB); so, 1.27 GB and faster than either
            shrink = ort.RunOptions()
            shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            self.run = lambda batch: self.session.run(None, batch, shrink)[0]
        else:
            import openvino as ov

            compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                             "INFERENCE_PRECISION_HINT": "f32"})
            self.provider = "OpenVINO CPU"
            self.run = lambda batch: compiled(batch)[0]
        self.inputs = meta["inputs"]

    def __call__(self, batch: dict) -> np.ndarray:
        return np.asarray(self.run({k: np.asarray(batch[k], dtype=np.int64) for k in self.inputs}), dtype=np.float32)

    def tokenizer(self) -> "ExportTokenizer":
        return ExportTokenizer(self.directory / "tokenizer.json", self.meta)

    def manifest(self) -> dict:
        return {"backend": self.meta["backend"], "quantize": self.meta["quantize"], "provider": self.provider,
                "export": str(self.directory / self.meta["file"]), "export_hash": self.meta["hash"]}


class Encoded(dict):
    """A batch of encodings by input name, with the ``tokenizers`` encodings themselves (which say
    what they cut), as transformers' fast tokenizers return them."""

    encodings: list


class ExportTokenizer:
    """A model's fast tokenizer run by the ``tokenizers`` library (what transformers' fast tokenizers
    call), cut and padded as transformers would: the same ids without importing torch."""

    FIELDS = {"input_ids": "ids", "token_type_ids": "type_ids", "attention_mask": "attention_mask"}

    def __init__(self, path: Path, meta: dict):
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_file(str(path))
        self.backend.no_padding()
        self.meta, self.inputs = meta["tokenizer"], meta["inputs"]

    def __call__(self, texts: list[str], pairs: list[str] | None = None, truncation: bool = True,
                 max_length: int | None = None) -> Encoded:
        if truncation and max_length and max_length < 2**31:  # transformers' "no limit" is 1e30
            self.backend.enable_truncation(max_length, strategy="longest_first", direction=self.meta["truncation_side"])
        else:
            self.backend.no_truncation()
        encodings = self.backend.encode_batch(list(zip(texts, pairs)) if pairs is not None else texts)
        out = Encoded({k: [getattr(e, self.FIELDS[k]) for e in encodings] for k in self.inputs})
        out.encodings = encodings
        return out

    def pad(self, batch: dict, return_tensors: str = "np") -> dict:
        """int64 arrays padded to the batch's longest input on the tokenizer's side (numpy whatever
        ``return_tensors`` says: the argument is transformers' ``pad``'s, which the batching calls)."""
        longest = max(len(ids) for ids in batch["input_ids"])
        pad = {"input_ids": self.meta["pad_id"], "token_type_ids": self.meta["pad_type_id"], "attention_mask": 0}
        out = {}
        for name, rows in batch.items():
            array = np.full((len(rows), longest), pad[name], dtype=np.int64)
            for i, row in enumerate(rows):
                if self.meta["padding_side"] == "right":
                    array[i, :len(row)] = row
                else:
                    array[i, longest - len(row):] = row
            out[name] = array
        return out


def _cache_entry(model_dir: str, what: str, backend: str, quantize: str) -> tuple[Path, dict]:
    """(the cache folder, the libraries' versions) of one model's export for one backend."""
    from ..manifest import versions
    from .resolve import files_key

    libs = {k: v for k, v in versions(("torch", "onnxruntime", "openvino", "nncf")).items() if k != "threads"}
    key = files_key(model_dir, ("export", FORMAT, what, backend, quantize, json.dumps(libs, sort_keys=True)))
    return Path(os.environ.get("LLMRANK_CACHE", Path.home() / ".cache" / "llmrank")) / "exports" / key, libs


def cached(model_dir: str, what: str, backend: str, quantize: str, threads: int) -> Exported | None:
    """The export of the model files in ``model_dir`` for ``backend``, or None when there is none
    yet; a damaged one is removed (and said)."""
    final, _ = _cache_entry(model_dir, what, backend, quantize)
    if not (final / "export.json").exists():
        return None
    try:
        meta = json.loads((final / "export.json").read_text())
        if _hash(final / meta["file"]) == meta["hash"]:
            return Exported(final, meta, threads)
    except (OSError, ValueError, KeyError, RuntimeError):
        pass
    warnings.warn(f"{final}: a damaged export; exporting the model again", Note)
    shutil.rmtree(final, ignore_errors=True)
    return None


def export(module, forward, tokenizer, max_length: int, model_dir: str, what: str, backend: str, quantize: str,
           batches) -> None:
    """Export ``forward`` (the tokenizer's inputs by name in, one tensor out; it runs ``module``)
    of the model files in ``model_dir`` into the cache with ``tokenizer`` (transformers' fast
    one) and the model's ``max_length``, atomically. ``batches()``: tokenised calibration
    batches (the first also traces the export)."""
    final, libs = _cache_entry(model_dir, what, backend, quantize)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{final.name}.", suffix=".partial", dir=final.parent))
    try:
        start = time.perf_counter()
        meta = _export(module, forward, work, backend, quantize, batches())
        unknown = set(meta["inputs"]) - set(ExportTokenizer.FIELDS)
        if unknown:
            raise LlmrankError(f"{model_dir}: cannot export a model that takes {', '.join(sorted(unknown))}")
        tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        meta.update(what=what, source=model_dir, seconds=round(time.perf_counter() - start, 2), versions=libs,
                    hash=_hash(work / meta["file"]), max_length=max_length or tokenizer.model_max_length,
                    tokenizer={"pad_id": tokenizer.pad_token_id or 0, "pad_type_id": tokenizer.pad_token_type_id,
                               "padding_side": tokenizer.padding_side, "truncation_side": tokenizer.truncation_side})
        (work / "export.json").write_text(json.dumps(meta, indent=2))
        try:
            os.rename(work, final)
        except OSError:  # another process exported the same model first: keep theirs
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _export(module, forward, work: Path, backend: str, quantize: str, batches: list[dict]) -> dict:
    import torch

    names = list(batches[0])
    example = tuple(torch.as_tensor(np.asarray(batches[0][k][:2], dtype=np.int64)) for k in names)
    axes = {k: {0: "batch", 1: "tokens"} for k in names} | {"out": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_positional(module, forward, names).eval(), example, str(work / "model.onnx"),
                          input_names=names, output_names=["out"], dynamic_axes=axes, opset_version=17, dynamo=False)
    module.to("meta")  # spent: its weights leave memory before a quantiser runs
    gc.collect()
    meta = {"backend": backend, "quantize": quantize, "inputs": names}
    if backend == "onnx" and quantize == "none":
        return {**meta, "file": "model.onnx"}
    if backend == "onnx":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with _quiet_libraries():
            quantize_dynamic(str(work / "model.onnx"), str(work / "model.int8.onnx"), weight_type=QuantType.QInt8,
                             per_channel=True)
        (work / "model.onnx").unlink()
        return {**meta, "file": "model.int8.onnx"}
    import openvino as ov

    model = ov.convert_model(str(work / "model.onnx"))
    if quantize == "int8":
        model = _nncf_int8(model, batches)
    ov.save_model(model, str(work / "model.xml"), compress_to_fp16=False)  # fp32 means fp32 weights too
    (work / "model.onnx").unlink()
    return {**meta, "file": "model.xml", "weights": "model.bin"}


def _nncf_int8(model, batches: list[dict]):
    """Static int8 quantisation by NNCF, calibrated on ``batches``."""
    import nncf

    data = nncf.Dataset([{k: np.asarray(v, dtype=np.int64) for k, v in b.items()} for b in batches])
    with _quiet_libraries():
        return nncf.quantize(model, data, model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=sum(len(next(iter(b.values()))) for b in batches))


@contextlib.contextmanager
def _quiet_libraries():
    """The quantisers' progress bars and advice off stdout (data) and stderr (our notes)."""
    logging.disable(logging.WARNING)
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
            yield
    finally:
        logging.disable(logging.NOTSET)


def _positional(module, forward, names: list[str]):
    """``forward`` taking its inputs by position (what torch.onnx traces), with ``module`` inside."""
    import torch

    class Positional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, *args):
            return forward(**dict(zip(names, args)))

    return Positional()


def _hash(path: Path) -> str:
    """The export's bytes (an OpenVINO model's weights file too)."""
    from ..manifest import fingerprint

    return fingerprint(path, path.with_suffix(".bin")) if path.suffix == ".xml" else fingerprint(path)


def calibration_pairs(count: int = 128) -> list[tuple[str, str]]:
    """(query, passage) pairs of the embedded sample's BM25 run: fixed calibration data."""
    from importlib import resources

    from ..formats import read_run, read_topics
    from ..formats.corpus import read_passages

    sample = resources.files("llmrank_cli") / "sample" / "passages"
    run = read_run(sample / "bm25.run")
    topics = {t.qid: t.text for t in read_topics(sample / "topics.tsv")}
    passages = read_passages(sample / "corpus.jsonl")
    pairs = zip(run.table["qid"].to_pylist(), run.table["docno"].to_pylist())
    return [(topics[q], passages[d]) for q, d in pairs][:count]
