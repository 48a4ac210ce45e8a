"""Every reader on good and bad input; writers are atomic and round-trip."""
import gzip
import os

import pytest

from llmrank_cli.errors import InputError, LlmrankError
from llmrank_cli.formats import (Run, read_qrels, read_run, read_submission, read_topics, write_run,
                                 write_submission)
from llmrank_cli.formats.corpus import iter_documents
from llmrank_cli.formats.io import atomic_output

TREC_RUN = "1 Q0 d1 1 2.5 tag\n1 Q0 d2 2 1.5 tag\n2 Q0 d3 1 0.25 tag\n"


def test_trec_run_fast_and_slow_paths_agree(write):
    fast = read_run(write("a.run", TREC_RUN))
    messy = read_run(write("b.run", "# comment\n1  Q0\td1 1 2.5 tag extra\n\n1 Q0 d2 2 1.5 tag\n2 Q0 d3 1 0.25 tag\n"))
    assert fast.table.to_pydict() == messy.table.to_pydict()
    assert fast.tag == "tag"


def test_msmarco_run_orders_by_rank(write):
    run = read_run(write("m.tsv", "1\td9\t2\n1\td8\t1\n"))
    assert run.output_order()["docno"].to_pylist() == ["d8", "d9"]


def test_gzip_and_stdin(tmp_path, monkeypatch):
    import io
    import sys
    path = tmp_path / "r.run.gz"
    path.write_bytes(gzip.compress(TREC_RUN.encode()))
    assert len(read_run(path)) == 3
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TREC_RUN.encode())))
    assert len(read_run("-")) == 3


def _documents(path):
    return list(iter_documents(path))


@pytest.mark.parametrize("read, name, text, message", [
    (read_run, "bad.run", "1 Q0 d1 1 2.5 tag\n1 Q0 d2 2 high tag\n",
     r"bad.run:2: score: expected a number, got 'high'"),
    (read_run, "bad.run", "1 Q0 d1 1 2.5 tag\n1 Q0 d2 2\n", r"bad.run:2: expected 6 fields for a TREC run, found 4"),
    (read_run, "bad.run", "1 0 d1 1\n",
     r"bad.run: expected a run with 6 fields .* found 4 \(this looks like a qrels file\)"),
    (read_topics, "bad.tsv", "301\tcrime\n302 no tab here\n", r"bad.tsv:2: expected 'qid<TAB>text'"),
    (read_topics, "bad.jsonl", '{"qid": "1", "text": "a"}\n{"qid": \n', r"bad.jsonl:2: invalid JSON"),
    (read_topics, "bad2.jsonl", '{"name": "1"}\n', r"bad2.jsonl:1: needs an id key"),
    (read_topics, "dup.tsv", "1\ta\n1\tb\n", r"dup.tsv: qid 1 appears more than once"),
    (_documents, "bad.jsonl", '{"id": "a", "contents": "x"}\n{"id": \n', r"bad.jsonl:2: invalid JSON"),
    (_documents, "bad2.jsonl", '{"contents": "x"}\n', r"bad2.jsonl:1: needs an id key"),
    (_documents, "bad.trec", "<DOC>\n<DOCNO>1</DOCNO>\ntext\n<DOC>\n", r"bad.trec:4: <DOC> inside another <DOC>"),
    (_documents, "bad2.trec", "<DOC>\ntext\n</DOC>\n", r"bad2.trec:1: document without <DOCNO>"),
    (_documents, "bad.smart", ".I 1\n.W\nok\n.I\n", r"bad.smart:4: expected '.I <id>'"),
])
def test_bad_input_names_file_and_line(write, read, name, text, message):
    """Runs, topics and corpora: one line naming the file and line at fault."""
    with pytest.raises(InputError, match=message):
        read(write(name, text))


def test_qrels_negative_labels_and_errors(write):
    q = read_qrels(write("q.txt", "1 0 d1 2\n1 0 d2 -1\n"))
    assert q.table["rel"].to_pylist() == [2, -1]
    with pytest.raises(InputError, match=r"bad.qrels:2: rel: expected an integer, got '1.5'"):
        read_qrels(write("bad.qrels", "1 0 d1 2\n1 0 d2 1.5\n"))
    dup = read_qrels(write("dup.qrels", "1 0 d1 2\n1 0 d1 1\n"))
    with pytest.raises(InputError, match=r"dup.qrels:2: docno d1 is judged more than once"):
        dup.check_unique()


TOPICS = {
    "t.tsv": "301\tinternational organized crime\n302\tpoliomyelitis and post-polio\n",
    "t.sgml": "<top>\n<num> Number: 301\n<title> international organized crime\n<desc> Description:\nIdentify"
              " organizations\n<narr> Narrative:\nA relevant document\n</top>\n<top>\n<num> Number: 302\n"
              "<title> poliomyelitis and post-polio\n<desc> Description:\nIs the disease\n</top>\n",
    "t.xml": '<topics>\n<topic number="301" type="faceted">\n<query>international organized crime</query>\n'
             '<question>Identify organizations</question>\n</topic>\n<topic number="302">\n'
             "<query>poliomyelitis and post-polio</query>\n</topic>\n</topics>\n",
    "t.jsonl": '{"query_id": "301", "text": "international organized crime"}\n'
               '{"qid": 302, "query": "poliomyelitis and post-polio"}\n',
    "t.csv": "qid,query\n301,international organized crime\n302,\"poliomyelitis and post-polio\"\n",
}


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_topic_formats_autodetected(write, name):
    topics = read_topics(write(name, TOPICS[name]))
    assert [(t.qid, t.text) for t in topics] == [("301", "international organized crime"),
                                                 ("302", "poliomyelitis and post-polio")]


def test_topic_fields_and_vaswani_layout(write):
    assert read_topics(write("t.sgml", TOPICS["t.sgml"]), field="desc")[0].text == "Identify organizations"
    assert read_topics(write("t.xml", TOPICS["t.xml"]), field="desc")[0].text == "Identify organizations"
    vaswani = "<top>\n<num>1</num><title>\nMEASUREMENT OF DIELECTRIC CONSTANT\n</title>\n</top>\n"
    assert read_topics(write("v.trec", vaswani)) == [("1", "MEASUREMENT OF DIELECTRIC CONSTANT")]


def test_written_run_is_trec_ordered_and_round_trips(tmp_path):
    run = Run.from_columns(["2", "1", "1", "1"], ["x", "a", "b", "c"], [0.1, 1.0, 1.0, 0.123456789012345678])
    out = tmp_path / "out.run"
    write_run(run, out, tag="t")
    lines = out.read_text().splitlines()
    assert lines == ["2 Q0 x 1 0.1 t", "1 Q0 b 1 1 t", "1 Q0 a 2 1 t", "1 Q0 c 3 0.12345678901234568 t"]
    again = read_run(out)
    assert again.table["score"].to_pylist() == run.output_order()["score"].to_pylist()


def test_writer_refuses_non_finite_and_keeps_old_file(tmp_path):
    out = tmp_path / "keep.run"
    out.write_text("precious\n")
    bad = Run.from_columns(["1"], ["a"], [float("nan")])
    with pytest.raises(LlmrankError, match="non-finite"):
        write_run(bad, out)
    assert out.read_text() == "precious\n"


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "x.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.txt"]


def test_gzip_output(tmp_path):
    out = tmp_path / "r.run.gz"
    write_run(Run.from_columns(["1"], ["a"], [1.0]), out, tag="t")
    assert gzip.decompress(out.read_bytes()).decode() == "1 Q0 a 1 1 t\n"


def test_submission_round_trip(tmp_path, write):
    run = Run.from_columns(["q1", "q1", "q2"], ["llm-a", "llm-b", "llm-a"], [0.9, 0.8, 0.5], tag="team")
    csv_path = tmp_path / "sub.csv"
    write_submission(run, csv_path)
    assert csv_path.read_text().splitlines()[:2] == ["query_id,LLM_id,rank,score,team_id", "q1,llm-a,1,0.9,team"]
    back = read_submission(csv_path)
    assert back.tag == "team"
    assert back.output_order().to_pydict() == run.output_order().to_pydict()
    with pytest.raises(InputError, match=r"s.csv:1: expected the header"):
        read_submission(write("s.csv", "qid,llm\n"))


def test_duplicate_check_tells_apart_docnos_sharing_their_ends():
    """Docnos alike in length and first/last 8 bytes share a fingerprint; only equal ones are duplicates."""
    import pyarrow as pa

    from llmrank_cli.formats.table import first_duplicate
    docnos = ["clueweb09-en0000-00-00000", "clueweb09-en0001-00-00000", "a", "b", "ab"]
    assert first_duplicate(pa.table({"q": ["1"] * 5, "d": docnos}), "q", "d") is None
    assert first_duplicate(pa.table({"q": ["1", "2"], "d": ["x", "x"]}), "q", "d") is None
    table = pa.table({"q": ["1"] * 6, "d": docnos + ["clueweb09-en0001-00-00000"]})
    assert first_duplicate(table, "q", "d") == 5


def test_a_claimed_directory_made_again_is_claimed_again(tmp_path):
    """A process that removed a directory it held and made it anew holds the new one: another
    process claiming it is refused in one line."""
    import shutil
    import subprocess
    import sys

    from llmrank_cli.formats.io import claim

    held = tmp_path / "checkpoints"
    held.mkdir()
    claim(held)
    shutil.rmtree(held)
    held.mkdir()
    claim(held)
    other = subprocess.run([sys.executable, "-c", f"from llmrank_cli.formats.io import claim; claim({str(held)!r})"],
                           capture_output=True, text=True)
    assert other.returncode == 1 and "being written by another llmrank process" in other.stderr
