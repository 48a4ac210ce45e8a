"""Locked installs: constraints.txt pins the tested environment (torch left to setup.sh), the
environment setup.sh made holds exactly those versions, and every manifest names the lock and
the CPU its numbers came from."""
import hashlib
import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        assert match, f"constraints.txt: not a pin: {line!r}"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_the_environment_is_the_locked_one():
    pins = _pins()
    assert len(pins) > 100 and not {"torch", "triton"} & set(pins)
    assert {"transformers", "sentence-transformers", "pyarrow", "numpy"} <= set(pins)
    marker = (Path(sys.prefix) / "llmrank-lock").read_text().strip()  # setup.sh writes it, locked or not
    if marker == "unlocked":  # LLMRANK_UNLOCKED=1: the newest versions, on purpose
        return
    assert marker == hashlib.sha256((ROOT / "constraints.txt").read_bytes()).hexdigest()[:16]
    site = Path(sysconfig.get_paths()["purelib"]).resolve()  # not the copies libraries vendor (setuptools')
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()
                 if Path(d.locate_file("")).resolve() == site}
    differ = {name: (version, installed[name]) for name, version in pins.items()
              if name in installed and installed[name] != version}
    assert not differ, differ
    unpinned = set(installed) - set(pins) - {"llmrank", "torch", "triton", "pip", "setuptools", "wheel"}
    assert not {n for n in unpinned if not n.startswith("nvidia-")}, unpinned


def test_manifests_name_the_lock_and_the_cpu():
    from llmrank_cli.manifest import versions

    found = versions()
    assert found["lock"] == (Path(sys.prefix) / "llmrank-lock").read_text().strip()
    assert re.fullmatch(r".+ \((AMX|AVX-512|AVX2|NEON|no vector extension named)\)", found["cpu"]), found["cpu"]


def test_a_model_trained_elsewhere_loads_with_one_note_naming_the_differences(cli, llm_sample, tmp_path):
    """A model directory whose manifest records other versions or another ISA loads, with one
    note naming each difference; one made here loads with none."""
    import json

    from llmrank_cli.manifest import numerics

    model = tmp_path / "prior"
    assert cli("--quiet", "train", "prior", "--data", llm_sample / "data", "--all", "-o", model).code == 0
    topics = llm_sample / "s" / "llm" / "topics.tsv"
    here = cli("rank", "--model", model, "--topics", topics, "-o", tmp_path / "a.run")
    assert here.code == 0 and "was trained under" not in here.err
    manifest = json.loads((model / "model.json").read_text())
    isa = numerics()["isa"]
    manifest["versions"].update(torch="0.1.0", cpu=manifest["versions"]["cpu"].replace(isa, "NEON" if isa != "NEON"
                                                                                        else "AVX2"))
    (model / "model.json").write_text(json.dumps(manifest))
    moved = cli("rank", "--model", model, "--topics", topics, "-o", tmp_path / "b.run")
    assert moved.code == 0
    notes = [line for line in moved.err.splitlines() if "was trained under" in line]
    assert len(notes) == 1 and "torch 0.1.0 (here " in notes[0] and f"(here {isa})" in notes[0], moved.err
    assert (tmp_path / "a.run").read_text() == (tmp_path / "b.run").read_text()


def test_cached_embeddings_are_keyed_by_the_kernels_and_isa(monkeypatch, tmp_path):
    from llmrank_cli import manifest
    from llmrank_cli.kit.encoders import cached_embeddings

    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path))
    cached_embeddings(["a passage"], "all-MiniLM-L6-v2", device="cpu")
    monkeypatch.setattr(manifest, "numerics", lambda recorded=None: {"torch": "0.1.0", "isa": "NEON"})
    cached_embeddings(["a passage"], "all-MiniLM-L6-v2", device="cpu")
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 2
