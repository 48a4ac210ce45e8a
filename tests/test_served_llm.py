"""The LLM rankers on a served model (``--backend openai``), against a real server: llama.cpp's
OpenAI-compatible server (``llama-cpp-python[server]``, which the test set-up installs) serving
the offline SmolLM2 GGUF on a free port of 127.0.0.1. Faults are made for real: the server is
killed (SIGKILL) or frozen (SIGSTOP) right after the job's N-th chunk is on disk, and a small
proxy in front of it answers 429 or rewrites an answer, and counts the requests."""
import http.client
import importlib.machinery
import importlib.util
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmrank_cli.cli import main
from llmrank_cli.formats import read_run

from .test_llm_rerankers import rank_llm_module

MODEL = "smollm2-135m"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama.cpp's server on a fixed free port: started, killed, frozen and started again."""

    def __init__(self):
        pytest.importorskip("llama_cpp.server", reason="pip install 'llama-cpp-python[server]' (commands/test.sh)")
        from llmrank_cli.kit.resolve import resolve_causal_lm

        folder, gguf = resolve_causal_lm(MODEL)
        self.gguf, self.port, self.process = str(Path(folder) / gguf), _free_port(), None
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", self.gguf, "--model_alias", MODEL, "--n_ctx", "8192",
             "--n_threads", "2", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # up when it lists its model (loading the GGUF takes a moment)
            assert self.process.poll() is None, "llama.cpp's server exited at start"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/v1/models")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("llama.cpp's server did not come up in 120 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def server():
    s = LlamaServer()
    s.start()
    yield s
    s.stop()


class Proxy(http.server.ThreadingHTTPServer):
    """Forwards to the server; counts requests by path; ``statuses`` answers the next chat
    requests with those HTTP errors instead; ``rewrite`` replaces the next chat answers' text."""

    def __init__(self, upstream_port: int):
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream, self.requests, self.statuses, self.rewrite = upstream_port, {}, [], []
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def chat_requests(self) -> int:
        return self.requests.get("/v1/chat/completions", 0)


class _Forward(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests[self.path] = self.server.requests.get(self.path, 0) + 1
            chat = self.path.endswith("/chat/completions")
            status = self.server.statuses.pop(0) if self.server.statuses and chat else None
            rewrite = self.server.rewrite.pop(0) if self.server.rewrite and chat and not status else None
        if status:
            self._send(status, json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode())
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=300)
        conn.request(self.command, self.path, body=body or None, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if rewrite is not None:
            answer = json.loads(data)
            answer["choices"][0]["message"]["content"] = rewrite
            data = json.dumps(answer).encode()
        self._send(response.status, data)

    def _send(self, status: int, data: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle


@pytest.fixture(scope="module")
def proxy(server):
    p = Proxy(server.port)
    threading.Thread(target=p.serve_forever, daemon=True).start()
    yield p
    p.shutdown()
    p.server_close()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The embedded sample's passages, its BM25 run cut to the first 6 queries (a window takes
    about a second on this server)."""
    root = tmp_path_factory.mktemp("served")
    assert main(["--quiet", "sample", str(root / "s")]) == 0
    run = root / "s" / "passages" / "bm25.run"
    lines = run.read_text().splitlines(True)
    first = list(dict.fromkeys(ln.split()[0] for ln in lines))[:6]
    run.write_text("".join(ln for ln in lines if ln.split()[0] in first))
    return root / "s" / "passages"


def _args(sample, url: str, *extra) -> list[str]:
    return ["rerank", "--kind", "listwise", "--model", MODEL, "--backend", "openai", "--base-url", url,
            "--run", str(sample / "bm25.run"), "--topics", str(sample / "topics.tsv"),
            "--corpus", str(sample / "corpus.jsonl"), "--depth", "5", "--retries", "1", *extra]


def _manifest(path) -> dict:
    return json.loads(Path(f"{path}.manifest.json").read_text())["config"]


@pytest.fixture(scope="module")
def reference(proxy, sample, tmp_path_factory):
    """The uninterrupted run through the server (and the proxy), and its cache directory."""
    root = tmp_path_factory.mktemp("reference")
    os.environ["LLMRANK_CACHE"] = str(root / "cache")
    try:
        assert main(["--quiet", *_args(sample, proxy.url, "--chunk-pairs", "10", "-o", str(root / "ref.run"))]) == 0
    finally:
        del os.environ["LLMRANK_CACHE"]
    return root / "ref.run", root / "cache"


@pytest.mark.slow
def test_a_served_listwise_run_sends_our_prompts_reads_answers_as_rank_llm_and_reruns_from_the_cache(
        sample, reference, proxy, tmp_path, monkeypatch):
    from llmrank_cli.kit.response_cache import ResponseCache, key_of
    from llmrank_cli.pipelines.score import from_run
    from llmrank_cli.formats import read_topics
    from llmrank_cli.formats.corpus import read_passages
    from llmrank_cli.rankers import Runtime, get

    ref, cache_dir = reference
    m = _manifest(ref)
    assert (m["backend"], m["served_model"], m["windows"], m["calls"]) == ("openai", MODEL, 6, 6)
    # the server's own count of the prompt tokens equals our tokenizer's count of our rendering
    served = get("listwise").open(MODEL, Runtime(backend="openai"), base_url=proxy.url, cache=False)
    local = get("listwise").open(MODEL)
    queries = from_run(read_run(str(sample / "bm25.run")), read_topics(str(sample / "topics.tsv")), 5)
    texts = read_passages(str(sample / "corpus.jsonl"), {d for q in queries for d in q.top})
    assert m["prompt_tokens"] == sum(len(local.fitted(q.text, [texts[d] for d in q.top])[0].ids) for q in queries)
    # each query's new order is rank_llm's reading of the server's answer
    clean = rank_llm_module("rank_llm.rerank.listwise.listwise_inference_handler").ListwiseInferenceHandler
    cache, run = ResponseCache(cache_dir), read_run(str(ref)).table.to_pylist()
    for q in queries:
        prompt, _ = served.fitted(q.text, [texts[d] for d in q.top])
        answer = cache.get(key_of(served.lm.identity, prompt.content, served.lm.sampling(prompt.max_new_tokens)))
        named = [i for i in dict.fromkeys(int(x) - 1 for x in clean._clean_response(None, answer).split())
                 if 0 <= i < 5]
        expected = [q.top[i] for i in named + [i for i in range(5) if i not in named]]
        got = [r["docno"] for r in sorted((r for r in run if r["qid"] == q.qid), key=lambda r: r["rank"])][:5]
        assert got == expected
    served.close()
    # a fully cached rerun asks the server nothing (its request count), and writes the same bytes
    monkeypatch.setenv("LLMRANK_CACHE", str(cache_dir))
    again, asked = tmp_path / "again.run", proxy.chat_requests()
    assert main(["--quiet", *_args(sample, proxy.url, "--chunk-pairs", "10", "-o", str(again))]) == 0
    assert proxy.chat_requests() == asked and again.read_bytes() == ref.read_bytes()
    assert _manifest(again)["cached_calls"] == 6


FAULT_AFTER_FLUSHES = """
import os, signal, sys
from llmrank_cli.pipelines import score
add, flushes = score._Partial.add, [0]
def faulting(self, *args):
    add(self, *args)
    flushes[0] += 1
    if flushes[0] == int(os.environ["FAULT_AFTER_FLUSHES"]):  # right after the N-th chunk is on disk
        os.kill(int(os.environ["SERVER_PID"]), getattr(signal, os.environ["FAULT"]))
score._Partial.add = faulting
from llmrank_cli.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["SIGKILL", "SIGSTOP"])
def test_a_server_lost_mid_run_fails_in_one_line_keeping_the_work_and_resume_completes_the_same_bytes(
        server, sample, reference, tmp_path, monkeypatch, fault):
    """Killed: the connection is refused; frozen: each request times out. Either way, after the
    retries: one line naming the URL, exit 2, the finished chunks kept; the server back,
    ``--resume`` completes to the uninterrupted run's bytes."""
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cut.run"
    args = _args(sample, server.url, "--chunk-pairs", "10", "--timeout", "3", "-o", str(out))
    failed = subprocess.run([sys.executable, "-c", FAULT_AFTER_FLUSHES, "--quiet", *args], capture_output=True,
                            text=True, env={**os.environ, "FAULT_AFTER_FLUSHES": "2", "FAULT": fault,
                                            "SERVER_PID": str(server.process.pid)})
    try:
        lines = failed.stderr.strip().splitlines()
        assert failed.returncode == 2 and len(lines) == 1 and "Traceback" not in failed.stderr, failed.stderr
        assert server.url in lines[0] and "--resume" in lines[0]
        assert ("no answer within 3 s" if fault == "SIGSTOP" else "cannot connect") in lines[0]
        assert not out.exists() and len(Path(f"{out}.partial.done").read_text().split()) == 4  # 2 chunks of 2, of 6
    finally:
        server.stop()
        server.start()
    assert main(["--quiet", *args, "--resume"]) == 0
    assert out.read_bytes() == reference[0].read_bytes()


@pytest.mark.slow
def test_a_429_is_retried_and_an_answer_that_names_no_passage_leaves_its_window(server, sample, reference, proxy,
                                                                                 tmp_path, monkeypatch):
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-never-written")  # llama.cpp's server takes any key
    proxy.statuses, proxy.rewrite, asked = [429], ["I cannot rank these passages."], proxy.chat_requests()
    out = tmp_path / "x.run"
    assert main(["--quiet", *_args(sample, proxy.url, "--concurrency", "1", "-o", str(out))]) == 0
    m = _manifest(out)
    assert m["unparsable_windows"] == 1 and m["calls"] == 6
    assert "sk-secret" not in Path(f"{out}.manifest.json").read_text() and m["api_key_env"] == "OPENAI_API_KEY"
    assert proxy.chat_requests() - asked == 7  # 6 and the one refused
    first = read_run(str(sample / "bm25.run")).output_order().to_pylist()[:5]  # the rewritten window's query
    got = sorted((r for r in read_run(str(out)).table.to_pylist() if r["qid"] == first[0]["qid"]),
                 key=lambda r: r["rank"])
    assert [r["docno"] for r in got[:5]] == [r["docno"] for r in first]
    ref = {ln.split()[0]: [] for ln in reference[0].read_text().splitlines()}
    for ln in reference[0].read_text().splitlines():
        ref[ln.split()[0]].append(ln)
    mine = {}
    for ln in out.read_text().splitlines():
        mine.setdefault(ln.split()[0], []).append(ln)
    assert {q for q in ref if ref[q] != mine[q]} <= {first[0]["qid"]}  # every other query as uninterrupted


def test_no_server_at_the_url_and_no_vllm_are_one_line_before_anything_is_written(sample, tmp_path, cli):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    r = cli(*_args(sample, url, "-o", str(tmp_path / "x.run")))
    assert r.code == 2 and url in r.err and "cannot connect" in r.err and len(r.err.strip().splitlines()) == 1
    if importlib.util.find_spec("vllm") is None:  # never a test dependency: where it is, a GPU is asked for
        r = cli(*[("vllm" if a == "openai" else a) for a in _args(sample, "", "-o", str(tmp_path / "x.run"))])
        assert r.code == 2 and "pip install 'llmrank[vllm]'" in r.err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_model_the_server_does_not_serve_a_missing_url_and_a_kind_it_cannot_run_are_refused(server, sample,
                                                                                               tmp_path, cli):
    out = str(tmp_path / "x.run")
    r = cli(*[("gpt-9" if a == MODEL else a) for a in _args(sample, server.url, "-o", out)])
    assert r.code == 2 and f"serves {MODEL}, not 'gpt-9'" in r.err
    r = cli(*_args(sample, "", "-o", out))
    assert r.code == 2 and "--backend openai needs --base-url" in r.err
    r = cli(*[("monot5" if a == "listwise" else a) for a in _args(sample, server.url, "-o", out)])
    assert r.code == 2 and "--base-url is not an option of --kind monot5" in r.err
    r = cli("rerank", "--kind", "monot5", "--model", MODEL, "--backend", "openai", "--run", str(sample / "bm25.run"),
            "--topics", str(sample / "topics.tsv"), "--corpus", str(sample / "corpus.jsonl"), "-o", out)
    assert r.code == 2 and "monot5 runs on torch" in r.err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_served_pointwise_scores_are_the_log_odds_of_the_servers_top_logprobs(server, sample):
    """Each score is the server's log p(Yes) - log p(No) for the pair's prompt (asked here by
    hand); the same prompts on transformers (the GGUF dequantised to fp32, where the server runs
    Q4_1 kernels) give the same log-odds up to quantisation."""
    import numpy as np

    from llmrank_cli.rankers import Runtime, get

    words = {"true_token": "Yes", "false_token": "No"}  # SmolLM2's top answers to this prompt: both in the top 20
    served = get("pointwise").open(MODEL, Runtime(backend="openai"), base_url=server.url, concurrency=2, **words)
    local = get("pointwise").open(MODEL, **words)
    passages = [json.loads(ln)["contents"] for ln in (sample / "corpus.jsonl").read_text().splitlines()[:8]]
    queries = ["what causes tides"] * 4 + ["how do vaccines work"] * 4
    a, b = served.score_pairs(queries, passages), local.score_pairs(queries, passages)
    assert served.lm.calls == 8 and served.lm.unlisted == 0
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    for i in (0, 5):
        conn.request("POST", "/v1/chat/completions", json.dumps({
            "model": MODEL, "messages": served.prompt(queries[i], passages[i]).content, "max_tokens": 1,
            "temperature": 0, "logprobs": True, "top_logprobs": 20}), {"Content-Type": "application/json"})
        top = json.loads(conn.getresponse().read())["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        listed = {t["token"]: t["logprob"] for t in top}
        assert a[i] == pytest.approx(listed["Yes"] - listed["No"], abs=1e-9)
    assert np.abs(a - b).max() < 0.5  # measured: at most 0.22 on these pairs
    served.close()


def test_the_vllm_engine_batches_a_steps_windows_and_reads_logprobs_through_vllms_api(sample, tiny_lm, tmp_path,
                                                                                    monkeypatch, cli):
    """vLLM needs a GPU, which no test machine has: a stand-in module with the shape of vLLM's
    documented offline API (``LLM.chat``, ``LLM.generate``, ``SamplingParams``, outputs with
    text, token ids and per-token log-prob dicts) checks llmrank's side of the seam: one call a
    sliding-window step across the chunk's queries, greedy parameters, scores read by token id."""
    import types

    import torch

    calls = []

    class Output:
        def __init__(self, text, logprobs=None):
            self.text, self.token_ids, self.logprobs = text, [1, 2], logprobs

    class LLM:
        def __init__(self, model, **kwargs):
            from transformers import AutoTokenizer

            self.kwargs, self.tokenizer = kwargs, AutoTokenizer.from_pretrained(model)
            self.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(max_model_len=2048))

        def get_tokenizer(self):
            return self.tokenizer

        def chat(self, conversations, params, use_tqdm=True):
            calls.append(("chat", len(conversations), {p.temperature for p in params}))
            out = []
            for messages, p in zip(conversations, params):
                if p.logprobs:
                    ids = self.tokenizer(["yes", "no"], add_special_tokens=False)["input_ids"]
                    logprobs = [{ids[0][0]: types.SimpleNamespace(logprob=-0.5), 9: types.SimpleNamespace(logprob=-1),
                                 ids[1][0]: types.SimpleNamespace(logprob=-2.0)}]
                    out.append(types.SimpleNamespace(prompt_token_ids=[0] * 7, outputs=[Output("yes", logprobs)]))
                else:
                    out.append(types.SimpleNamespace(prompt_token_ids=[0] * 7, outputs=[Output("[2] > [1]")]))
            return out

    vllm = types.ModuleType("vllm")
    vllm.LLM = LLM
    vllm.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    vllm.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LLMRANK_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "x.run"
    common = ["rerank", "--model", str(tiny_lm), "--backend", "vllm", "--run", str(sample / "bm25.run"), "--topics",
              str(sample / "topics.tsv"), "--corpus", str(sample / "corpus.jsonl"), "--depth", "6"]
    r = cli(*common, "--kind", "listwise", "--window", "4", "--stride", "2", "--tensor-parallel", "2", "-o", str(out))
    assert r.code == 0, r.err
    assert calls == [("chat", 6, {0.0}), ("chat", 6, {0.0})]  # 6 queries, 2 windows each: 2 steps
    m = _manifest(out)
    assert (m["backend"], m["windows"], m["calls"], m["model_identity"].split(":")[0]) == ("vllm", 12, 12, "vllm")
    calls.clear()
    r = cli(*common, "--kind", "pointwise", "-o", str(out))
    assert r.code == 0, r.err
    assert calls == [("chat", 36, {0.0})] and {ln.split()[4] for ln in out.read_text().splitlines()[:6]} == {"1.5"}
