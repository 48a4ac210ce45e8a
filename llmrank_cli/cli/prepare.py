"""``llmrank prepare``: normalise corpora, topics and qrels; build Lucene indexes."""
from __future__ import annotations

from typing import List

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

    n = write_corpus(itertools.chain.from_iterable(iter_documents(p, fmt) for p in inputs), output)
    note(f"{n} documents written to {output}")


@prepare_app.command("topics")
def prepare_topics(
    source: str = typer.Argument(..., help="Topics: TSV, TREC SGML, XML, JSONL, CSV or SMART queries, or irds:<id>."),
    output: str = options.OUTPUT,
    fmt: str = options.term("topics_format", "--input-format"),
    field: str = options.term("topics_field", "--field"),
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
    corpus: str = typer.Argument(..., help="JsonCollection file from `prepare corpus` (or a directory of "
                                 "them), or irds:<id>."),
    output: str = typer.Option(..., "-o", "--output", help="Index directory to create."),
    threads: int = typer.Option(2, "--threads", min=1, help="Indexing threads."),
    stemmer: str = typer.Option("porter", "--stemmer", help="porter, krovetz or none."),
    store_raw: bool = typer.Option(False, "--store-raw", help="Keep document text (rerank can read it)."),
    quiet: bool = options.QUIET,
) -> None:
    """Build a Lucene index with Anserini (positions and document vectors stored, so RM3 works)."""
    from ..retrieval.bm25 import index_corpus

    note(f"index written to {index_corpus(corpus, output, threads, stemmer, store_raw)}")


def _data_directory(job, _: dict) -> None:
    from ..jobs.data import MllmPrepareJob
    from ..pipelines import data

    out = (data.prepare_mllm if isinstance(job, MllmPrepareJob) else data.prepare_items)(job)
    note(f"data directory written to {out}")


def _heads(job, _: dict) -> None:
    from ..pipelines import heads

    note(f"heads written to {heads.prepare(job, state.quiet)}")


def _register_commands() -> None:
    from ..jobs.data import ItemsPrepareJob, MllmPrepareJob
    from ..jobs.training import HeadsPrepareJob

    prepare_app.command("mllm")(flags.job_command(
        MllmPrepareJob, [], _data_directory,
        "Read the TREC Million LLMs files into a data directory (topics, qrels, LLM list, folds, cached query "
        "embeddings; discovery answer flags, response features and statistics)."))
    prepare_app.command("items")(flags.job_command(
        ItemsPrepareJob, [], _data_directory,
        "Any topics + qrels over a fixed item pool (routing data, with the LLMs' answers), over a corpus's "
        "passages, or over a run's candidates, as a data directory."))
    prepare_app.command("heads")(flags.job_command(
        HeadsPrepareJob, [], _heads,
        "Per-head ICR scores of each topic's top window and the LM's state of its query (for `train routehead`), "
        "computed once; an interrupted run continues where it stopped."))


_register_commands()
