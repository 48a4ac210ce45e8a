"""--backend onnx|openvino and --quantize int8 on rerank: scores as torch fp32's within stated
tolerances, one export per model and backend reused from the cache, a damaged export rebuilt,
shards byte-identical within a backend, one-line refusals."""
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

from .test_rerank import job, rerank  # noqa: E402,F401  (the fixture and the helper)

# fp32 backends compute the same function in other kernels; int8 rounds weights (and, for
# OpenVINO, activations): the tiny random model's scores sit near 0.5, so its differences are small.
TOLERANCE = {("onnx", "none"): 1e-5, ("openvino", "none"): 1e-4, ("onnx", "int8"): 0.02, ("openvino", "int8"): 0.02}


def scores(path) -> dict:
    return {(r[0], r[2]): float(r[4]) for r in (line.split() for line in path.read_text().splitlines())}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "exports"


def test_each_backend_scores_as_torch_and_its_export_is_reused(cli, job, tiny_cross_encoder, tmp_path, cache):
    assert rerank(cli, job, tiny_cross_encoder, tmp_path / "torch.run").code == 0
    reference = scores(tmp_path / "torch.run")
    for (backend, quantize), tolerance in TOLERANCE.items():
        out = tmp_path / f"{backend}-{quantize}.run"
        r = rerank(cli, job, tiny_cross_encoder, out, "--backend", backend, "--quantize", quantize)
        assert r.code == 0, r.err
        got = scores(out)
        assert got.keys() == reference.keys()
        assert max(abs(got[k] - reference[k]) for k in got) < tolerance
        if quantize == "none":
            assert [line.split()[2] for line in out.read_text().splitlines()] == \
                   [line.split()[2] for line in (tmp_path / "torch.run").read_text().splitlines()]
    exports = sorted(cache.iterdir())
    assert len(exports) == 4 and not list(cache.glob("*.partial"))
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*")}
    r = cli("rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"], "--model",
            tiny_cross_encoder, "--backend", "openvino", "--quantize", "int8", "-o", tmp_path / "again.run")
    assert r.code == 0 and "exporting" not in r.err
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*")} == stamps  # nothing written: loaded
    assert (tmp_path / "again.run").read_text() == (tmp_path / "openvino-int8.run").read_text()
    manifest = (tmp_path / "again.run.manifest.json").read_text()
    assert '"backend": "openvino"' in manifest and '"quantize": "int8"' in manifest and "export_hash" in manifest


def test_a_damaged_export_is_made_again(cli, job, tiny_cross_encoder, tmp_path, cache):
    first, second = tmp_path / "a.run", tmp_path / "b.run"
    assert rerank(cli, job, tiny_cross_encoder, first, "--backend", "onnx").code == 0
    (model,) = cache.glob("*/model.onnx")
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    r = cli("rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"], "--model",
            tiny_cross_encoder, "--backend", "onnx", "-o", second)
    assert r.code == 0 and "damaged export" in r.err
    assert second.read_text() == first.read_text()


def test_shards_of_one_backend_merge_to_its_full_run(cli, job, tiny_cross_encoder, tmp_path, cache):
    full, a, b, merged = (tmp_path / n for n in ("full.run", "a.run", "b.run", "m.run"))
    flags = ("--backend", "onnx", "--quantize", "int8", "--chunk-pairs", "1")
    assert rerank(cli, job, tiny_cross_encoder, full, *flags).code == 0
    assert rerank(cli, job, tiny_cross_encoder, a, *flags, "--shard", "1/2").code == 0
    assert rerank(cli, job, tiny_cross_encoder, b, *flags, "--shard", "2/2").code == 0
    assert cli("merge", a, b, "--topics", job["topics"], "-o", merged).code == 0
    assert merged.read_text() == full.read_text()


@pytest.mark.parametrize("flags, message", [
    (("--quantize", "int8"), "--quantize int8 needs --backend onnx or openvino"),
    (("--backend", "onnx", "--dtype", "bf16"), "runs fp32 or --quantize int8"),
    (("--backend", "tensorrt"), "--backend must be one of"),
    (("--backend", "openvino", "--kind", "icr"), "icr runs on torch"),
])
def test_refusals_are_one_line(cli, job, tiny_cross_encoder, tmp_path, cache, flags, message):
    r = rerank(cli, job, tiny_cross_encoder, tmp_path / "x.run", *flags)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
    assert not (tmp_path / "x.run").exists()


def test_a_missing_extra_names_its_pip_install(cli, job, tiny_cross_encoder, tmp_path, cache, monkeypatch):
    from llmrank_cli.kit import backends

    real = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec", lambda name: None if name == "openvino" else real(name))
    r = rerank(cli, job, tiny_cross_encoder, tmp_path / "x.run", "--backend", "openvino")
    assert r.code == 2 and "pip install 'llmrank[openvino]'" in r.err
    assert backends.pick_backend("auto", "none", "cpu", "auto") == "onnx"  # auto falls back to what is there
    assert backends.pick_backend("auto", "none", "cuda", "auto") == "torch"


@pytest.mark.slow
def test_packaged_minilm_bi_encoder_on_each_backend(cli, tmp_path, cache):
    """The real all-MiniLM-L6-v2 on the embedded sample: fp32 backends equal torch, int8 keeps the top 10."""
    assert cli("sample", tmp_path / "s").code == 0
    p = tmp_path / "s" / "passages"
    runs = {}
    for backend, quantize in (("torch", "none"), ("onnx", "none"), ("openvino", "none"), ("openvino", "int8")):
        out = tmp_path / f"{backend}-{quantize}.run"
        r = cli("--quiet", "rerank", "--kind", "bi", "--run", p / "bm25.run", "--topics", p / "topics.tsv",
                "--corpus", p / "corpus.jsonl", "--model", "all-MiniLM-L6-v2", "--depth", "20", "--backend", backend,
                "--quantize", quantize, "-o", out)
        assert r.code == 0, r.err
        runs[backend, quantize] = scores(out)
    reference = runs["torch", "none"]
    assert max(abs(runs["onnx", "none"][k] - v) for k, v in reference.items()) < 1e-5
    assert max(abs(runs["openvino", "none"][k] - v) for k, v in reference.items()) < 1e-3
    int8 = runs["openvino", "int8"]
    overlaps = []
    for q in {q for q, _ in reference}:
        top = lambda s: {d for _, d in sorted(((-v, d) for (qq, d), v in s.items() if qq == q))[:10]}
        overlaps.append(len(top(reference) & top(int8)) / 10)
    assert np.mean(overlaps) >= 0.8


def _llmrank(*args):
    """`llmrank ARGS` in a fresh interpreter that prints, last, whether it imported torch."""
    import os
    import subprocess
    import sys

    code = ("import sys; from llmrank_cli.cli.app import main; code = main(sys.argv[1:]); "
            "print('torch', 'torch' in sys.modules); sys.exit(code)")
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_exporting_one_model_at_once_keep_one_export_and_never_import_torch(
        job, tiny_cross_encoder, tmp_path, cache):
    """Each makes the export in a child interpreter into its own partial folder (the second rename
    finds the first's and uses it) and scores on it with tokenizers and onnxruntime alone."""
    runs = [tmp_path / "a.run", tmp_path / "b.run"]
    procs = [_llmrank("rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"], "--model",
                      tiny_cross_encoder, "--backend", "onnx", "-o", out) for out in runs]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.splitlines()[-1] == "torch False" and "exporting" in err
    assert runs[0].read_text() == runs[1].read_text()
    assert len(list(cache.iterdir())) == 1 and not list(cache.glob("*.partial"))


def test_an_export_that_fails_in_its_child_is_one_line(job, tmp_path, cache):
    """An embedding model asked to score as a cross-encoder is refused inside the exporting child."""
    proc = _llmrank("--quiet", "rerank", "--run", job["run"], "--topics", job["topics"], "--corpus", job["corpus"],
                    "--model", "all-MiniLM-L6-v2", "--kind", "cross", "--backend", "openvino", "-o", tmp_path / "x.run")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and not (tmp_path / "x.run").exists()
    assert err.strip().splitlines() == [
        "llmrank: error: exporting all-MiniLM-L6-v2 for openvino: model 'all-MiniLM-L6-v2' has no trained scoring "
        "head (classifier.weight, classifier.bias would be random): use --kind bi for an embedding model, or a "
        "trained cross-encoder"]


def test_the_exports_tokenizer_encodes_as_transformers(tiny_cross_encoder, cache):
    """ids, token types, masks, cuts and padding of the export's tokenizers-only tokenizer equal
    the transformers tokenizer's (pairs of a cross-encoder, single texts of a bi-encoder)."""
    from transformers import AutoTokenizer

    from llmrank_cli import rankers
    from llmrank_cli.errors import Note
    from llmrank_cli.kit.backends import calibration_pairs

    pairs = calibration_pairs(40)
    queries, passages = [q for q, _ in pairs], [p + " and more" * (i * 3) for i, (_, p) in enumerate(pairs)]
    hf = AutoTokenizer.from_pretrained(str(tiny_cross_encoder))
    with pytest.warns(Note, match="exporting"):
        ranker = rankers.get("cross").open(str(tiny_cross_encoder), rankers.Runtime(device="cpu", backend="onnx"))
    ours = ranker.tokenizer
    for args in ((queries, passages), (passages,)):
        want, got = hf(*args, truncation=True, max_length=48), ours(*args, truncation=True, max_length=48)
        assert {k: got[k] for k in want} == dict(want)
        assert [bool(e.overflowing) for e in got.encodings] == [bool(e.overflowing) for e in want.encodings]
        assert any(e.overflowing for e in got.encodings) and not all(e.overflowing for e in got.encodings)
        batch = {k: got[k][:7] for k in got}
        padded, reference = ours.pad(batch), hf.pad({k: want[k][:7] for k in want}, return_tensors="np")
        assert all(np.array_equal(padded[k], reference[k]) for k in reference)
