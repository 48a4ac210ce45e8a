"""``profile``: expertise retrieval over what each LLM said (the candidate models of expert
finding). Every LLM is one document, its profile: the query and text of each of its substantive
answers (the discovery answers ``prepare mllm`` keeps, and the training queries' responses when
the data directory has them); a query ranks the profiles with BM25 through Anserini, as ``rank
--model bm25`` ranks passages. ``--documents answers`` is the document-centric variant: every
answer is a document, and a query's top ``--answers`` answers vote for their LLMs with their
scores. LLMs that no evidence matches rank below those it does, by the prior."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from . import register
from .base import ItemRanker, Settings, setting
from ..errors import LlmrankError

SPILL_FILES = 32  # files a profile collection is gathered through (see _write_documents)
PRIOR_WEIGHT = 1e-6  # the prior orders LLMs that BM25 scores alike (most often: not at all)
_SHARED: dict[tuple, tempfile.TemporaryDirectory] = {}  # indexes of discovery answers, by file and settings


@dataclass
class ProfileSettings(Settings):
    documents: str = setting("profile", "profile (one document per LLM: all its answers) or answers (one per "
                                        "answer; an LLM's score sums its retrieved answers' scores).",
                             choices=("profile", "answers"))
    evidence: str = setting("substantive", "Training queries' responses in the evidence: substantive (every "
                                           "answer that is not a refusal, as the discovery answers) or relevant "
                                           "(only answers whose gain is above 0).",
                            choices=("substantive", "relevant"))
    answers: int = setting(1000, "Answers each query retrieves with --documents answers.", min=1)
    k1: float = setting(0.9, "BM25 k1.", min=0.0)
    b: float = setting(0.4, "BM25 b.", min=0.0)


@register("profile")
class Profile(ItemRanker):
    Settings = ProfileSettings
    prior = np.zeros(0)
    index: str | None = None
    _built = None  # the temporary directory of an index built by fit

    def fit_pool(self, data, train, seed, progress) -> None:
        self.prior = data.gains[train].mean(axis=0).astype(np.float64)
        key = self._shared_key(data)
        if key not in _SHARED:
            built = tempfile.TemporaryDirectory(prefix="llmrank-profile-")
            collection = Path(built.name) / "collection"
            collection.mkdir()
            if not self._write_documents(self._evidence(data, train), collection / "docs.jsonl", len(data.items)):
                raise LlmrankError(f"{data.path}: no substantive answer to build profiles from; prepare the data "
                                   f"directory with --discovery (prepare mllm) or --responses (prepare items)")
            from ..retrieval.bm25 import build_index

            build_index(str(collection), str(Path(built.name) / "index"))
            if key is None:
                self._built = built  # this fit's own, removed with the ranker
            else:
                _SHARED[key] = built
        self.index = str(Path((_SHARED[key] if key is not None else self._built).name) / "index")
        super().fit_pool(data, train, seed, progress)

    def _shared_key(self, data) -> tuple | None:
        """The evidence of a directory without responses is its discovery answers alone, the same
        for every fold: its index is built once per process (a CV's folds, ltr's inner folds)."""
        if (data.path / "responses.jsonl").exists():
            return None
        kept = data.path / "evidence.jsonl"
        return str(kept.resolve()), kept.stat().st_mtime_ns if kept.exists() else 0, self.settings.documents

    def _evidence(self, data, train: np.ndarray) -> Iterator[tuple[int, str]]:
        """(item index, text) of every answer in the evidence: the discovery's substantive answers,
        then the training queries' responses the settings admit."""
        from ..datasets.discovery import SUBSTANTIVE, response_features

        column = {item: n for n, item in enumerate(data.items)}
        kept = data.path / "evidence.jsonl"
        if kept.exists():
            with open(kept) as f:
                for line in f:
                    answer = json.loads(line)
                    yield column[answer["llm"]], answer["text"]
        if not (data.path / "responses.jsonl").exists():
            return
        pools = data.pools()
        for q in train:
            for item, text in zip(*pools[q]):
                useful = data.gains[q, item] > 0 if self.settings.evidence == "relevant" else \
                    response_features(text)[SUBSTANTIVE] == 1
                if useful:
                    yield int(item), f"{data.texts[q]}\n{text}"

    def _write_documents(self, evidence: Iterator[tuple[int, str]], path: Path, items: int) -> int:
        """A JsonCollection of the evidence (profiles: one document per LLM, id its index, in index
        order; answers: id ``item.n``); the number of answers in it. Profiles are gathered through
        ``SPILL_FILES`` files of consecutive LLMs beside it, so memory holds one file's answers
        (at 2025's scale all 2.7M answers held at once took 0.6 GiB)."""
        n = 0
        with open(path, "w") as f:
            if self.settings.documents == "answers":
                for n, (item, text) in enumerate(evidence, 1):
                    f.write(json.dumps({"id": f"{item}.{n}", "contents": text}) + "\n")
                return n
            per_file = -(-items // SPILL_FILES)
            with tempfile.TemporaryDirectory(dir=path.parent.parent) as spill:
                names = [Path(spill) / f"{b}.jsonl" for b in range(SPILL_FILES)]
                with ExitStack() as stack:
                    spilled = [stack.enter_context(open(name, "w")) for name in names]
                    for n, (item, text) in enumerate(evidence, 1):
                        spilled[item // per_file].write(json.dumps([item, text]) + "\n")
                for name in names:
                    profiles = defaultdict(list)
                    with open(name) as answers:
                        for line in answers:
                            item, text = json.loads(line)
                            profiles[item].append(text)
                    for item, texts in sorted(profiles.items()):
                        f.write(json.dumps({"id": str(item), "contents": "\n".join(texts)}) + "\n")
        return n

    def score_pool(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        from ..retrieval.bm25 import Bm25Searcher

        searcher = Bm25Searcher(self.index, self.settings.k1, self.settings.b)
        answers = self.settings.documents == "answers"
        scores = np.zeros((len(texts), len(self.items)))
        hits = searcher.search([str(i) for i in range(len(texts))], [t or " " for t in texts],
                               self.settings.answers if answers else len(self.items), os.cpu_count() or 1)
        for row, (_, found) in enumerate(hits):
            for docid, score in found:
                scores[row, int(docid.split(".")[0])] += score
        return scores + PRIOR_WEIGHT * self.prior / max(float(self.prior.max()), 1e-12)

    def save_weights(self, directory) -> None:
        np.save(directory / "prior.npy", self.prior)
        shutil.copytree(self.index, directory / "index", dirs_exist_ok=True)

    def load_weights(self, directory) -> None:
        self.prior = np.load(directory / "prior.npy")
        self.index = str(directory / "index")
