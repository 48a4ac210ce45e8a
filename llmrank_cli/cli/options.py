"""Options several commands share, declared once so their names and help agree."""
import typer

TOPICS_FORMAT = typer.Option("auto", "--topics-format", help="auto, tsv, sgml, xml, jsonl, csv or smart.")
TOPICS_FIELD = typer.Option("title", "--topics-field", help="SGML/XML field: title, desc or narr.")
OUTPUT = typer.Option("-", "-o", "--output", help="Output file, written atomically; - for stdout.")
QUIET = typer.Option(False, "--quiet", help="No progress bar or notes on stderr.")
RUN_FORMAT = typer.Option("auto", "--run-format", help="auto, trec or msmarco.")
