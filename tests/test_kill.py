"""Nothing lost to kill -9: a long job killed after some of its work is flushed continues with
--resume to the bytes an uninterrupted run writes, and without --resume refuses in one line."""
import signal
import subprocess
import sys
import time

import pytest

from llmrank_cli.cli import main


def _killed(args: list[str], progress, timeout: float = 300) -> bool:
    """Run ``llmrank ARGS`` in its own process and SIGKILL it once ``progress()`` is true; False
    when it finished first (the caller then has nothing interrupted to test)."""
    process = subprocess.Popen([sys.executable, "-m", "llmrank_cli", "--quiet", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if progress():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


@pytest.fixture(scope="module")
def passages(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    assert main(["--quiet", "sample", str(root / "s")]) == 0
    return root / "s" / "passages"


def test_rerank_killed_mid_job_resumes_to_the_same_bytes(passages, tmp_path):
    job = ["rerank", "--kind", "bi", "--model", "all-MiniLM-L6-v2", "--run", str(passages / "bm25.run"), "--topics",
           str(passages / "topics.tsv"), "--corpus", str(passages / "corpus.jsonl"), "--chunk-pairs", "1"]
    whole, cut = tmp_path / "whole.run", tmp_path / "cut.run"
    assert main([*job, "--quiet", "-o", str(whole)]) == 0
    done = tmp_path / "cut.run.partial.done"
    finished = lambda: done.exists() and len(done.read_text().split()) >= 3  # noqa: E731
    if not _killed([*job, "-o", str(cut)], finished):
        pytest.skip("the job finished before it could be killed")
    assert not cut.exists() and 3 <= len(done.read_text().split()) < 15
    refused = subprocess.run([sys.executable, "-m", "llmrank_cli", *job, "-o", str(cut)], capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr and refused.stderr.count("\n") == 1
    assert main([*job, "--quiet", "--resume", "-o", str(cut)]) == 0
    assert cut.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.run", "cut.run.manifest.json", "whole.run",
                                                          "whole.run.manifest.json"]
