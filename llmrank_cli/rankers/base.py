"""The one shape of a ranker: it scores, per query, a list of candidates and returns one score
per candidate; it saves to and loads from a directory whose manifest (``model.json``) is
written once, atomically, after the weights; a trainable ranker also fits.

A ranker's settings are one dataclass whose fields (made with :func:`setting`) generate its CLI
flags and their help (``llmrank_cli/cli/flags.py``) and are recorded in its manifest.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..datasets.items import ItemData
from ..errors import LlmrankError
from ..settings import Runtime, Settings, flag_name, setting, term  # noqa: F401  (the rankers' kit)
from ..training.loop import LoopFields  # noqa: F401  (the rankers' kit)

MANIFEST = "model.json"


class Ranker:
    """Base class. ``candidates`` says what a ranker scores: ``"items"`` (ids from a fixed pool it
    learned, e.g. LLMs), ``"passages"`` (texts) or None (nothing on its own). ``trains_on`` is the
    type of the examples it learns from, a ``datasets`` class (``ItemData``, ``PassageExamples``,
    ``HeadsData``), or None: the pipeline for that type trains it and the CLI gives it that
    pipeline's flags, so a trainable ranker is one module. Rankers of item data and head scores
    fit themselves (``fit``); one of passage examples names its ``trainer``, a function
    ``(settings, examples, out, evaluation, resume, progress, note, runtime=) -> log`` that saves
    a directory its ``open`` reads (``training/hf.train``)."""

    name: ClassVar[str] = ""  # the registry's name (aliases and presets live in the registry)
    Settings: ClassVar[type] = Settings
    candidates: ClassVar[str | None] = "items"
    trains_on: ClassVar[type | None] = None
    trainer: ClassVar = None

    def __init__(self, settings=None, runtime: Runtime = Runtime()):
        self.settings = settings if settings is not None else self.Settings()
        self.runtime = runtime

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        """One float64 array of scores per query, one score per candidate."""
        raise NotImplementedError

    def report(self, stats) -> str:
        """What `rerank` says of this ranker's work after the pairs/s; ``stats``: the scoring
        job's, summed over its processes."""
        return f"{stats.truncated} inputs truncated at {getattr(self, 'max_length', 0)} tokens"

    def manifest(self) -> dict:
        """What this ranker adds to its directory's manifest (beside name, settings, versions)."""
        return {}

    def close(self) -> None:
        """Let go of what scoring held (a server client's connections)."""

    def save_weights(self, directory: Path) -> None:
        """Write the weights (everything but the manifest) into ``directory``."""

    def save(self, directory, extra: dict | None = None) -> Path:
        """Weights first, then the manifest, atomically: a directory with a manifest is complete."""
        from ..formats.io import atomic_output
        from ..manifest import versions

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_weights(directory)
        record = {"ranker": self.name, "settings": dataclasses.asdict(self.settings), **self.manifest(),
                  **(extra or {}), "versions": versions()}
        with atomic_output(directory / MANIFEST) as out:
            json.dump(record, out, indent=2)
            out.write("\n")
        return directory

    @classmethod
    def load(cls, directory: Path, manifest: dict, runtime: Runtime = Runtime()) -> "Ranker":
        raise NotImplementedError


def read_manifest(directory) -> dict | None:
    """A model directory's manifest, or None when there is none."""
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def stored_settings(cls: type, manifest: dict):
    """The settings a manifest recorded ("config": directories saved before rankers/)."""
    return cls.Settings(**manifest.get("settings", manifest.get("config", {})))


class ItemRanker(Ranker):
    """A ranker of a fixed pool of items (LLMs) learned from a data directory. It reads each query
    as the frozen sentence encoder's embedding of its text (computed once at `prepare`, or here
    at scoring time) and/or the text itself, and scores its whole pool at once
    (:meth:`score_pool`); :meth:`score` picks each query's candidates from that row."""

    candidates = "items"
    trains_on = ItemData
    query_features: ClassVar[str] = "embeddings"  # or "layer_states": each layer's mean-pooled output
    content_items = False  # True: items are passages given at scoring time (use_corpus), not a learned pool
    watch = None  # a training.loop.Watch: checkpoints, per-epoch evaluation and log of a fit

    def __init__(self, settings=None, runtime: Runtime = Runtime()):
        super().__init__(settings, runtime)
        self.items: list[str] = []
        self.encoder: str | None = None
        self.input_dim = 0
        self._sentence_model = None

    def fit(self, data, train: np.ndarray, seed: int = 0, progress=None) -> "ItemRanker":
        self.items, self.encoder = list(data.items), data.meta["encoder"]
        self.input_dim = int(self.features_of(data).shape[-1])
        self.fit_pool(data, train, seed, progress)
        return self

    def fit_pool(self, data, train: np.ndarray, seed: int, progress) -> None:
        """Learn from the training queries ``train`` of ``data`` (a datasets.ItemData)."""
        if progress:
            progress.advance(1)

    @property
    def epochs(self) -> int:
        """Progress ticks one fit makes."""
        return getattr(self.settings, "epochs", 1)

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        """float64 [queries, items]: every item of the pool for every query."""
        raise NotImplementedError

    def held_out_scores(self, data, idx: np.ndarray) -> np.ndarray:
        """:meth:`score_pool` of the data's queries ``idx``, also in the middle of a fit."""
        return self.score_pool(self.features_of(data)[idx], [data.texts[i] for i in idx])

    def held_out_report(self, data, idx: np.ndarray) -> dict[str, np.ndarray]:
        """What a CV reports beside the measures, for the queries ``idx`` of a fold: 1-d arrays are
        per-query values (their mean is reported), 2-d ones score matrices (an extra OOF run)."""
        return {}

    @classmethod
    def cv_report(cls, report: dict, measures: dict, settings, per_query: dict | None = None) -> dict:
        """A CV's report (``ms_per_query`` and the means of :meth:`held_out_report`), completed
        from the out-of-fold measures (their spread as in ``NAME.cv.json``) and the per-query
        values of :meth:`held_out_report` over all queries."""
        return report

    def use_corpus(self, passages: dict[str, str]) -> None:
        """Score these passages (ids -> texts): only a model of content items can."""
        raise LlmrankError(f"this {self.name} model ranks the {len(self.items)} items it was trained on; --corpus is "
                           f"for models of passages")

    def features_of(self, data) -> np.ndarray:
        """The query features this ranker reads, from a data directory."""
        if self.query_features == "layer_states":
            if data.layer_states is None:
                raise LlmrankError(f"{data.path}: {self.name} reads per-layer query states; prepare the data "
                                   f"directory with --layer-states")
            return data.layer_states
        return data.embeddings

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        from ..kit.devices import pick_device, use_all_cores
        from ..kit.encoders import encode_texts, layer_states, load_sentence_transformer

        if self._sentence_model is None:
            use_all_cores()
            self._sentence_model = load_sentence_transformer(self.encoder, pick_device(self.runtime.device))
        encode = layer_states if self.query_features == "layer_states" else encode_texts
        features = encode(queries, self.encoder, model=self._sentence_model)
        if features.shape[-1] != self.input_dim:
            raise LlmrankError(f"encoder {self.encoder} gives {features.shape[-1]}-d vectors, the model expects "
                               f"{self.input_dim}")
        pool = self.score_pool(features, queries)
        column = {item: i for i, item in enumerate(self.items)}
        unknown = sorted({c for cs in candidates for c in cs} - column.keys())
        if unknown:
            raise LlmrankError(f"{len(unknown)} candidates are not items this model knows (first: {unknown[0]})")
        return [pool[row, [column[c] for c in cs]] for row, cs in enumerate(candidates)]

    def manifest(self) -> dict:
        return {"items": self.items, "encoder": self.encoder, "input_dim": self.input_dim}

    def load_weights(self, directory: Path) -> None:
        """Read what :meth:`save_weights` wrote."""

    @classmethod
    def load(cls, directory: Path, manifest: dict, runtime: Runtime = Runtime()) -> "ItemRanker":
        ranker = cls(stored_settings(cls, manifest), runtime)
        ranker.items, ranker.encoder, ranker.input_dim = manifest["items"], manifest["encoder"], manifest["input_dim"]
        ranker.restore(manifest)
        ranker.load_weights(Path(directory))
        return ranker

    def restore(self, manifest: dict) -> None:
        """Take back what :meth:`manifest` added beyond items, encoder and dimension."""


def torch_only(name: str, runtime: Runtime, served: bool = False) -> None:
    """Refuse ``--backend onnx|openvino`` and ``--quantize`` for a ranker that runs on torch alone
    (``served``: or on a served model, ``--backend openai|vllm``)."""
    engines = ("torch", "auto") + (("openai", "vllm") if served else ())
    if runtime.backend not in engines or runtime.quantize != "none":
        raise LlmrankError(f"--backend {runtime.backend}{' and --quantize' if runtime.quantize != 'none' else ''}: "
                           f"{name} runs on {', '.join(e for e in engines if e != 'auto')}")


@dataclass
class ServedFields(Settings):
    """How an LLM ranker reaches a served model (``--backend openai``: kit/served_lm.py); the
    local engine reads none of these."""

    base_url: str = setting("", "--backend openai: the OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 "
                                "(vllm serve, SGLang, llama.cpp, Ollama, a hosted API).", scoring=True)
    api_key_env: str = setting("OPENAI_API_KEY", "--backend openai: the environment variable that holds the API "
                                                 "key (a key is never a flag, nor written anywhere).", scoring=True)
    concurrency: int = setting(4, "--backend openai: requests in flight (windows of different queries at once; "
                                  "a query's windows stay in order).", min=1, scoring=True)
    timeout: float = setting(120.0, "--backend openai: seconds a request may take before it is retried.",
                             min=0.1, scoring=True)
    retries: int = setting(4, "--backend openai: retries of a request after a connection error, timeout, 429 or "
                              "5xx, with exponential backoff.", min=0, scoring=True)
    tokenizer: str = setting("", "--backend openai: tokenizer to count prompt tokens with (default: --model's "
                                 "where it loads, else 4 characters a token).", scoring=True)
    context: int = setting(0, "--backend openai|vllm: the model's context in tokens (0: the server's "
                              "max_model_len, else the tokenizer config's, else 4096).", min=0, scoring=True)
    tensor_parallel: int = setting(1, "--backend vllm: GPUs the model is split over (tensor parallelism).", min=1,
                                   scoring=True)


class PassageRanker(Ranker):
    """A ranker of passage texts built from a pretrained model (hub id, offline name or
    directory): :meth:`open` loads it for scoring; :meth:`score_pairs` scores flat (query,
    passage) pairs, which lets one batch mix the candidates of several queries."""

    candidates = "passages"
    exports: ClassVar[bool] = False  # runs on --backend onnx|openvino too (kit/backends.py)
    served: ClassVar[bool] = False  # runs on --backend openai|vllm too (kit/llm_engine.py)

    def __init__(self, settings=None, runtime: Runtime = Runtime()):
        super().__init__(settings, runtime)
        if not self.exports:
            torch_only(self.name, runtime, self.served)
        self.model_name, self.max_length, self.batch_size, self.device = "", 0, 64, "cpu"
        self.truncated = 0  # inputs cut at max_length so far
        self.exported = None  # an Exported model standing in for torch's forward pass
        self.tokenizer = None  # the model's tokenizer (transformers', or the export's on an export)

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None,
             batch_size: int = 64, **options) -> "PassageRanker":
        raise NotImplementedError

    def score_pairs(self, queries: list[str], passages: list[str]) -> np.ndarray:
        raise NotImplementedError

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[np.ndarray]:
        flat = self.score_pairs([q for q, cs in zip(queries, candidates) for _ in cs],
                                [c for cs in candidates for c in cs])
        bounds = np.cumsum([0] + [len(cs) for cs in candidates])
        return [flat[a:b] for a, b in zip(bounds, bounds[1:])]

    def manifest(self) -> dict:
        return {"model": self.model_name, "max_length": self.max_length, "batch_size": self.batch_size,
                "device": self.device, **(self.exported.manifest() if self.exported else {"backend": "torch"})}

    def use_export(self, model: str, max_length: int | None, batch_size: int) -> bool:
        """Run on ``model``'s export when the runtime asks for ``--backend onnx|openvino`` (True
        then): the cached one, made first when missing. Scoring on it needs neither torch nor the
        torch model; the export is made in a child process unless this one holds torch already."""
        import warnings

        from ..errors import Note
        from ..kit.backends import backend_for, cached
        from ..kit.devices import cpu_threads
        from ..kit.resolve import resolve_model

        backend = backend_for(self.runtime)
        if backend == "torch":
            return False
        path, what, quantize = resolve_model(model), type(self).__name__, self.runtime.quantize
        found = cached(path, what, backend, quantize, cpu_threads())
        if found is None:
            warnings.warn(f"exporting {model} for {backend}{' int8' if quantize == 'int8' else ''} (once: kept in "
                          f"the cache's exports/)", Note)
            _export_elsewhere(type(self), model, backend, quantize)
            found = cached(path, what, backend, quantize, cpu_threads())
            if found is None:
                raise LlmrankError(f"exporting {model} for {backend} left no usable export")
        self.exported, self.tokenizer = found, found.tokenizer()
        self.model_name, self.batch_size, self.device = model, batch_size, "cpu"
        self.max_length = max_length or found.meta["max_length"]
        return True

    def export_parts(self) -> tuple:
        """(torch module, its forward pass by input name, transformers' fast tokenizer, model
        files' directory) of a ranker opened on torch: what its export is made of."""
        raise NotImplementedError

    def calibration(self) -> list[dict]:
        """Tokenised batches (numpy) of fixed pairs: what int8 quantisation is calibrated on."""
        raise NotImplementedError


def _export_model(name: str, model: str, backend: str, quantize: str) -> None:
    """Open ``model`` on torch (fp32, the CPU) as the ranker ``name`` and write its export into the cache."""
    from ..kit.backends import export
    from . import get

    ranker = get(name).open(model, Runtime(device="cpu", dtype="fp32"))
    module, forward, tokenizer, folder = ranker.export_parts()
    export(module, forward, tokenizer, ranker.max_length, folder, type(ranker).__name__, backend, quantize,
           ranker.calibration)


def _export_elsewhere(cls: type, model: str, backend: str, quantize: str) -> None:
    """:func:`_export_model` in a fresh interpreter, whose torch and model leave memory with it (DL19
    on OpenVINO int8: 1.74 GiB peak in one process); here when torch is loaded already."""
    import subprocess
    import sys

    if "torch" in sys.modules:
        return _export_model(cls.name, model, backend, quantize)
    code = "import sys; from llmrank_cli.rankers.base import export_main; export_main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, cls.name, model, backend, quantize], capture_output=True,
                          text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise LlmrankError(f"exporting {model} for {backend}: {last}")


def export_main(argv: list[str]) -> None:
    """The child of :func:`_export_elsewhere`: its error in one line on stderr."""
    import sys
    import warnings

    warnings.simplefilter("ignore")
    try:
        _export_model(*argv)
    except LlmrankError as exc:
        sys.exit(str(exc))
