"""``llmrank prepare``: normalise corpora, topics and qrels; build Lucene indexes."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import flags, options
from .app import app, note, state

prepare_app = typer.Typer(help="Normalise corpora, topics and qrels; build BM25 indexes.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")


@prepare_app.command("corpus")
def prepare_corpus(
    inputs: List[str] = typer.Argument(..., help="Collections: JSONL, TSV, TREC SGML, SMART (.gz ok), or irds:<id>."),
    output: str = typer.Option(..., "-o", "--output", help="pyserini JsonCollection file (atomic)."),
    fmt: str = typer.Option("auto", "--input-format", help="auto, jsonl, tsv, trec or smart."),
    quiet: bool = options.QUIET,
) -> None:
    """Write a pyserini JsonCollection ({"id", "contents"} per line), streaming."""
    import itertools

    from ..formats.corpus import iter_documents, write_corpus

    n = write_corpus(itertools.chain.from_iterable(_documents(p, fmt, iter_documents) for p in inputs), output)
    note(f"{n} documents written to {output}")


def _documents(path: str, fmt: str, iter_documents):
    if not path.startswith("irds:"):
        return iter_documents(path, fmt)
    from ..errors import LlmrankError, MissingExtra

    try:
        import ir_datasets
    except ImportError:
        raise MissingExtra(f"{path}", "ir_datasets") from None
    try:
        dataset = ir_datasets.load(path[5:])
        return ((d.doc_id, d.default_text()) for d in dataset.docs_iter())
    except Exception as exc:  # ir_datasets raises many kinds when offline or unknown
        raise LlmrankError(f"{path}: ir_datasets could not provide it ({str(exc).splitlines()[0][:200]})") from None


@prepare_app.command("topics")
def prepare_topics(
    source: str = typer.Argument(..., help="Topics: TSV, TREC SGML, XML, JSONL, CSV or SMART queries."),
    output: str = options.OUTPUT,
    fmt: str = options.topics_format("--input-format"),
    field: str = options.topics_field("--field"),
    number_by_position: bool = typer.Option(
        False, "--number-by-position",
        help="Number topics 1..n in file order (Cranfield: its qrels count queries by position, "
             "while cran.qry's .I ids skip numbers)."),
    quiet: bool = options.QUIET,
) -> None:
    """Write topics as qid<TAB>text, one line each."""
    from ..formats import read_topics, write_topics

    topics = read_topics(source, fmt, field, number_by_position)
    write_topics(topics, output)
    note(f"{len(topics)} topics written")


@prepare_app.command("qrels")
def prepare_qrels(
    source: str = typer.Argument(..., help="TREC qrels, CISI.REL or Cranfield cranqrel."),
    output: str = options.OUTPUT,
    fmt: str = typer.Option("auto", "--input-format", help="auto, trec, cisi or cranqrel."),
    quiet: bool = options.QUIET,
) -> None:
    """Write TREC qrels. cranqrel codes map -1->5, 1->4, 2->3, 3->2, 4->1 (as the collection's own
    TREC-format qrels); CISI.REL pairs are all relevant (1)."""
    from ..formats.qrels import read_any_qrels, write_qrels

    qrels = read_any_qrels(source, fmt)
    qrels.check_unique()
    write_qrels(qrels, output)
    note(f"{len(qrels)} judgements for {len(qrels.qids())} queries written")


@prepare_app.command("index")
def prepare_index(
    corpus: str = typer.Argument(..., help="JsonCollection file from `prepare corpus` (or a directory of them)."),
    output: str = typer.Option(..., "-o", "--output", help="Index directory to create."),
    threads: int = typer.Option(2, "--threads", min=1, help="Indexing threads."),
    stemmer: str = typer.Option("porter", "--stemmer", help="porter, krovetz or none."),
    store_raw: bool = typer.Option(False, "--store-raw", help="Keep document text (rerank can read it)."),
    quiet: bool = options.QUIET,
) -> None:
    """Build a Lucene index with Anserini (positions and document vectors stored, so RM3 works)."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from ..errors import LlmrankError
    from ..retrieval.bm25 import build_index

    target, source = Path(output), Path(corpus)
    if target.exists():
        raise LlmrankError(f"{target}: exists; remove it or choose another --output")
    if not source.exists():
        raise LlmrankError(f"{source}: no such file or directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        if source.is_dir():
            collection = source
        else:
            collection = staging / "collection"
            collection.mkdir()
            os.symlink(source.resolve(), collection / (source.name if source.suffix in (".jsonl", ".gz", ".json")
                                                       else source.name + ".jsonl"))
        build_index(str(collection), str(staging / "index"), threads, stemmer, store_raw)
        os.replace(staging / "index", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    note(f"index written to {target}")


def _parse_gain_map(text: Optional[str], default: Optional[dict]) -> Optional[dict]:
    from ..evaluation import parse_gains

    return dict(parse_gains(text)) if text else default


def _data_directory_flags(
    categories: Optional[str] = options.CATEGORIES,
    gains: Optional[str] = options.GAINS,
    folds: int = options.FOLDS,
    seed: int = options.SEED,
    encoder: str = options.ENCODER,
    layer_states: bool = options.LAYER_STATES,
    device: str = options.DEVICE,
    output: str = typer.Option(..., "-o", "--output", help="Data directory to write."),
    quiet: bool = options.QUIET,
) -> None:
    """The flags of every data directory (`prepare mllm`, `prepare items`)."""


def _data_directory(a: dict, topics, qrels, default_gains, sources: list, **inputs) -> None:
    from ..datasets import prepare_items

    out = prepare_items(topics, qrels, a["output"], _parse_gain_map(a["gains"], default_gains), a["folds"], a["seed"],
                        a["encoder"], sources, with_layer_states=a["layer_states"], categories=a["categories"],
                        device=a["device"], **inputs)
    note(f"data directory written to {out}")


def _mllm_flags(
    queries: str = typer.Option(..., "--queries", help="Track dev queries, qid<TAB>text (llm_dev_data.tsv)."),
    qrels: str = typer.Option(..., "--qrels", help="Track qrels: qid 0 llm_id label (1 best, 2 second, 0 other)."),
    discovery: Optional[List[str]] = typer.Option(None, "--discovery", help="Discovery JSON file(s), streamed."),
    metadata: Optional[List[str]] = typer.Option(None, "--metadata", help="Discovery metadata JSON (the same "
                                                 "responses with token log-probs, 2026), streamed."),
) -> None:
    """The Million LLMs track's files."""


def _prepare_mllm(a: dict, _: dict) -> None:
    from ..datasets import MLLM_GAINS
    from ..datasets.discovery import read_discovery
    from ..errors import LlmrankError
    from ..formats import read_qrels, read_topics

    discovery, metadata = a["discovery"] or [], a["metadata"] or []
    if metadata and not discovery:
        raise LlmrankError("--metadata adds log-probs to the responses of --discovery; give both")
    judgements = read_qrels(a["qrels"])
    found = read_discovery(discovery, sorted(set(judgements.table["docno"].to_pylist())), metadata) \
        if discovery else None
    _data_directory(a, read_topics(a["queries"], "tsv"), judgements, MLLM_GAINS,
                    [a["queries"], a["qrels"], *discovery, *metadata], discovery=found)


prepare_app.command("mllm")(flags.command(
    (_mllm_flags, _data_directory_flags), [], _prepare_mllm,
    "Read the TREC Million LLMs files into a data directory (topics, qrels, LLM list, folds, cached query "
    "embeddings; discovery answer flags, response features and statistics)."))


def _items_flags(
    topics: str = typer.Option(..., "--topics", help="Topics (any format llmrank reads)."),
    qrels: str = typer.Option(..., "--qrels", help="TREC qrels whose documents are a fixed item pool."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Passages as items: every passage of this file, "
                                                                 "embedded once by --encoder (for lt-ttd)."),
    responses: Optional[str] = typer.Option(None, "--responses", help="Each query's candidate texts (JSONL "
                                            "qid/llm/response: the LLMs' answers), for rankers that read them."),
    scores: Optional[str] = typer.Option(None, "--scores", help="Raw labels, qid<TAB>llm<TAB>label (e.g. 1-10 "
                                                                 "scores): language rankers' graded labels."),
    run: Optional[str] = typer.Option(None, "--run", help="With --corpus: each query's pool is this "
                                             "run's top --depth passages, kept as texts (language rankers)."),
    depth: int = typer.Option(100, "--depth", min=1, help="Candidates per query from --run."),
) -> None:
    """Any topics and qrels, with the items' texts."""


def _prepare_items(a: dict, _: dict) -> None:
    from ..formats import read_qrels, read_topics

    inputs = ("topics", "qrels", "corpus", "responses", "scores", "run", "categories")
    _data_directory(a, read_topics(a["topics"]), read_qrels(a["qrels"]), None, [a[k] for k in inputs if a[k]],
                    corpus=a["corpus"], responses=a["responses"], scores=a["scores"], candidates=a["run"],
                    depth=a["depth"])


prepare_app.command("items")(flags.command(
    (_items_flags, _data_directory_flags), [], _prepare_items,
    "Any topics + qrels over a fixed item pool (routing data, with the LLMs' answers), over a corpus's passages, "
    "or over a run's candidates, as a data directory."))


@prepare_app.command("heads")
def prepare_heads_command(
    model: str = typer.Option(..., "--model", help="Causal LM (hub id, directory, or smollm2-135m)."),
    run: str = typer.Option(..., "--run", help="First-stage run: each topic's top --window are scored."),
    topics: str = typer.Option(..., "--topics", help="Topics of the run."),
    corpus: str = typer.Option(..., "--corpus", help="Passage texts (JSONL/TSV/TREC/SMART, .gz ok)."),
    qrels: str = typer.Option(..., "--qrels", help="Judgements: RouteHead's pseudo labels and evaluation."),
    output: str = typer.Option(..., "-o", "--output", help="Heads directory to write."),
    window: int = typer.Option(20, "--window", min=1, help="Candidates per topic, in one prompt."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=8, help="Tokens kept of each passage (300)."),
    state_fraction: float = typer.Option(0.6, "--state-fraction", min=0.0, max=1.0,
                                         help="The query state is read after layer round(F x layers)."),
    device: str = options.DEVICE,
    dtype: str = options.DTYPE,
    quiet: bool = options.QUIET,
) -> None:
    """Per-head ICR scores of each topic's top window and the LM's state of its query (for
    `train routehead`), computed once; an interrupted run continues where it stopped."""
    from types import SimpleNamespace

    from ..pipelines import heads

    out = heads.prepare(SimpleNamespace(model=model, run=run, topics=topics, corpus=corpus, qrels=qrels,
                                        output=output, window=window, max_length=max_length,
                                        state_fraction=state_fraction, device=device, dtype=dtype), state.quiet)
    note(f"heads written to {out}")
