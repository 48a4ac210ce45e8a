"""Options several commands share, declared once so their names and help agree, and the flag
vocabulary every command follows (a test walks every command's options against it)."""
import typer

# One meaning per flag, in every command.
GLOSSARY = {
    "--run": "the input run (rerank, prepare items|heads, train, cv)",
    "--depth": "how much of an input to use: each query's top N of the input run",
    "--k": "how much to output: the top K per query (rank, fuse); a ranker's own K (knn, lt-ttd) is its setting",
    "--model": "the thing being run: bm25, a model directory, a hub id or an installed model name",
    "--encoder": "a backbone encoder (a text encoder to start from or embed with)",
    "--lm": "a backbone causal LM",
    "-o": "the output (a file, - for stdout, or a directory)",
    "--format": "the output's format",
    "--input-format": "an input's format (auto: detected)",
}
# Old spellings: they keep working for now, with a one-line note (cli/app.py rewrites them).
RENAMED = {"--candidates": "--run", "--base": "--encoder"}
RENAMED_IN = {"prepare": {"--format": "--input-format"}, "convert": {"--to": "--format", "--from": "--input-format"},
              "rerank": {"--heads": "--router"},
              "train routehead": {"--heads": "--data", "--eval-heads": "--eval-data"}}


def topics_format(flag: str = "--topics-format"):
    """The topics' format: --topics-format beside a command's main input, --input-format where
    topics are the input (`prepare topics`)."""
    return typer.Option("auto", flag, help="auto, tsv, sgml, xml, jsonl, csv or smart.")


def topics_field(flag: str = "--topics-field"):
    return typer.Option("title", flag, help="SGML/XML field: title, desc or narr.")


TOPICS_FORMAT, TOPICS_FIELD = topics_format(), topics_field()
OUTPUT = typer.Option("-", "-o", "--output", help="Output file, written atomically; - for stdout.")


def _quiet(value: bool) -> bool:
    """`llmrank CMD --quiet` acts as `llmrank --quiet CMD`."""
    if value:
        from .app import state
        state.quiet = True
    return value


QUIET = typer.Option(False, "--quiet", callback=_quiet, help="No progress bar or notes on stderr.")
RUN_FORMAT = typer.Option("auto", "--run-format", help="auto, trec or msmarco.")
DATA = typer.Option(..., "--data", help="Data directory from `prepare mllm|items`.")
def _device(value: str) -> str:
    from ..kit.devices import check_device

    return check_device(value)


DEVICE = typer.Option("auto", "--device", callback=_device, help="auto, cpu, cuda or mps (under torchrun: each "
                                                                 "process's GPU).")
DTYPE = typer.Option("auto", "--dtype", help="auto (bf16 on a GPU that has it, else fp32), fp32, bf16 or fp16.")
BACKEND = typer.Option("torch", "--backend", help="torch; for cross- and bi-encoders onnx, openvino (CPU; exported "
                       "once, cached) or auto (openvino on a CPU when installed, else onnx, else torch); for the LLM "
                       "rankers openai (a served model at --base-url) or vllm (vLLM's offline engine, on a GPU).")
QUANTIZE = typer.Option("none", "--quantize", help="none or int8 (with --backend onnx: dynamic; openvino: "
                        "static, calibrated on the embedded sample).")
SEED = typer.Option(0, "--seed", help="Random seed (folds, initialisation, batches).")
FOLDS = typer.Option(10, "--folds", min=2, help="Query folds for cross-validation.")
ENCODER = typer.Option("all-MiniLM-L6-v2", "--encoder", help="Frozen sentence encoder for queries.")
LAYER_STATES = typer.Option(False, "--layer-states", help="Also keep each query's mean-pooled output of every "
                                                          "encoder layer (fp16; lt-ttd needs them).")
CATEGORIES = typer.Option(None, "--categories", help="qid<TAB>category for every query (per-category "
                          "features and results).")
GAINS = typer.Option(None, "--gains", help="Label gains, e.g. 0=0,1=1.0,2=0.7.")
WEAK_LABELS = typer.Option(0.0, "--weak-labels", min=0.0, help="Add this weight x discovery-data weak credit "
                           "(substantive answers to similar discovery queries) to the training gains; 0 = off.")
