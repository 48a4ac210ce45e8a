"""`llmrank report`: the page's numbers are `eval`'s, its text is escaped, big inputs stay small,
LLM pools work, bad input is refused as `eval` refuses it (the browser checks are in
test_report_browser.py)."""
import json
import re
from html import unescape

import numpy as np
import pytest

from llmrank_cli.api import evaluations
from llmrank_cli.evaluation import page
from llmrank_cli.evaluation.significance import compare_to_baseline
from tests.conftest import shared

DL19_RUNS = ("bm25-top100.run", "bm25-rm3-top100.run", "splade-pp-ed-top100.run", "tasb-top100.run")


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html[html.index(f'<table id="{table_id}"'):]
    body = body[:body.index("</table>")]
    return [[unescape(re.sub(r"<[^>]+>", " ", c)).split()[0] if re.sub(r"<[^>]+>", "", c).strip() else ""
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S) if "<td" in row]


def test_summary_and_tests_are_evals_to_the_digit(cli, tmp_path):
    dl19 = shared("trec-dl", "dl19")
    runs = [dl19 / r for r in DL19_RUNS]
    out = tmp_path / "r.html"
    assert cli("--quiet", "report", dl19 / "qrels.txt", *runs, "--topics", dl19 / "topics.tsv", "-o", out).code == 0
    html = out.read_text()
    table = cli("eval", dl19 / "qrels.txt", *runs, "--format", "csv").out.splitlines()
    values = {}
    for line in table[1:]:
        run, _, measure, value = line.split(",")
        values.setdefault(run, []).append(value)
    rows = _cells(html, "summary")
    assert [r[1:] for r in rows] == [values[str(r)] for r in runs]
    tested = json.loads(cli("eval", dl19 / "qrels.txt", *runs, "-b", runs[0], "--format", "json").out)
    for run in tested["runs"][1:]:
        for measure, c in run["vs_baseline"].items():
            assert f"{c['delta']:+.4f}" in html and f"p={c['p_value']:.3g} · {c['wins']}/{c['ties']}/{c['losses']}" \
                in unescape(html), (run["run"], measure)


def test_the_api_writes_the_commands_page(cli, tmp_path):
    import llmrank

    sample = tmp_path / "s"
    assert cli("sample", sample).code == 0
    p = sample / "passages"
    args = dict(qrels=str(p / "qrels.txt"), runs=[str(p / "bm25.run"), str(p / "qld.run")],
                topics=str(p / "topics.tsv"), corpus=str(p / "corpus.jsonl"))
    assert cli("--quiet", "report", args["qrels"], *args["runs"], "--topics", args["topics"], "--corpus",
               args["corpus"], "-o", tmp_path / "cli.html").code == 0
    html = llmrank.report(**args)
    assert html == (tmp_path / "cli.html").read_text() == llmrank.report(**args, output=str(tmp_path / "api.html"))
    assert (tmp_path / "api.html").read_text() == html
    with pytest.raises(llmrank.LlmrankError, match="'colour' is not a field of ReportJob"):
        llmrank.report(**args, colour="red")


def test_several_baselines_are_corrected_together(tmp_path):
    """One baseline: exactly eval's tests; two: every comparison's p corrected over both."""
    dl19 = shared("trec-dl", "dl19")
    evals = evaluations(dl19 / "qrels.txt", [str(dl19 / r) for r in DL19_RUNS], ["nDCG@10", "AP"])
    one = page.against_baselines(evals, [evals[0].run_name], "t", "holm", 0.05, 10, 0)
    assert [c for _, c in one] == compare_to_baseline(evals, 0, "t", "holm", 0.05)
    two = page.against_baselines(evals, [evals[0].run_name, evals[1].run_name], "t", "holm", 0.05, 10, 0)
    assert len(two) == 2 * len(one)
    raw = {(c.run_name, c.measure): c.p_value for c in compare_to_baseline(evals, 0, "t", "none", 0.05)}
    for base, c in two:
        if base == evals[0].run_name:
            assert c.p_value >= raw[(c.run_name, c.measure)] * (1 - 1e-12)
    assert sum(c.significant for _, c in two) <= sum(c.significant for _, c in one) + len(one)


def test_text_is_escaped_and_query_terms_marked():
    words = page.terms("What is the <script> tag")
    assert words == {"script", "tag"}
    text = page.marked('<script>alert(1)</script> a "tag" & javascript:x', words)
    assert str(text) == ('&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; a &#34;<mark>tag</mark>'
                         '&#34; &amp; javascript:x')


def test_hostile_names_and_passages_stay_text(cli, write, tmp_path):
    hostile = '"><img src=x onerror=alert(1)>'
    qrels = write("q.txt", "1 0 d1 1\n1 0 d2 0\n2 0 d1 0\n2 0 d2 2\n")
    run_a = write("a.run", "1 Q0 d1 1 2.0 <svg/onload=alert(1)>\n1 Q0 d2 2 1.0 x\n2 Q0 d1 1 2.0 x\n2 Q0 d2 2 1.0 x\n")
    run_b = write("b.run", "1 Q0 d2 1 2.0 b\n1 Q0 d1 2 1.0 b\n2 Q0 d2 1 2.0 b\n2 Q0 d1 2 1.0 b\n")
    topics = write("t.tsv", f"1\t</textarea><script>alert(2)</script>\n2\t{hostile}\n")
    texts = {"d1": f"<a href='javascript:alert(3)'>x</a>{hostile}",
             "d2": "</details></section><script>alert(4)</script>"}
    corpus = write("c.jsonl", "".join(json.dumps({"id": d, "contents": t}) + "\n" for d, t in texts.items()))
    out = tmp_path / "r.html"
    assert cli("--quiet", "report", qrels, run_a, run_b, "--topics", topics, "--corpus", corpus, "-o", out).code == 0
    html = out.read_text()
    script = html[html.rindex("<script>"):]
    assert html.count("<script>") == 1 and "alert" not in script and "<img" not in html and "<svg/" not in html
    assert "&lt;svg/onload=alert(1)&gt;" in html and "&lt;/textarea&gt;&lt;script&gt;alert(2)" in html


def test_ten_thousand_queries_are_sampled_and_say_so(cli, tmp_path):
    rng = np.random.default_rng(0)
    qrels, runs = [], {"a": [], "b": []}
    for q in range(10000):
        for d in range(20):
            qrels.append(f"{q} 0 d{d} {int(rng.integers(0, 3))}\n")
            for name in runs:
                runs[name].append(f"{q} Q0 d{d} 0 {rng.random():.6f} {name}\n")
    (tmp_path / "q.txt").write_text("".join(qrels))
    for name, lines in runs.items():
        (tmp_path / f"{name}.run").write_text("".join(lines))
    out = tmp_path / "r.html"
    assert cli("--quiet", "report", tmp_path / "q.txt", tmp_path / "a.run", tmp_path / "b.run", "-o", out).code == 0
    html = out.read_text()
    assert html.count('<section class="query"') == 200 and "200 of 10000 queries are drawn" in html
    assert "More than 1000 queries" in html and html.count("<path") < 4000
    assert out.stat().st_size < 3_000_000


def test_llm_pools_show_items_their_answers_and_categories(cli, llm_sample, tmp_path):
    llm, data = llm_sample / "s" / "llm", llm_sample / "data"
    categories = tmp_path / "categories.tsv"
    qids = [line.split("\t")[0] for line in (llm / "topics.tsv").read_text().splitlines()]
    categories.write_text("".join(f"{q}\t{'even' if i % 2 else 'odd'}\n" for i, q in enumerate(qids)))
    assert cli("--quiet", "cv", "prior", "--data", data, "-o", tmp_path / "cv").code == 0
    prior = tmp_path / "cv" / "prior.run"
    flipped = tmp_path / "flipped.run"
    flipped.write_text("".join(f"{q} Q0 {d} {r} {-float(s)} flipped\n" for q, _, d, r, s, _ in
                               (line.split() for line in prior.read_text().splitlines())))
    out = tmp_path / "r.html"
    r = cli("--quiet", "report", llm / "qrels.txt", prior, flipped, "--data", data, "--by", categories, "-o", out)
    assert r.code == 0, r.err
    html = unescape(out.read_text())
    assert '<table id="categories"' in html and ">even<" in html and ">odd<" in html
    answer = json.loads((llm / "responses.jsonl").read_text().splitlines()[0])
    assert answer["response"][:40] in html


@pytest.mark.parametrize("args, problem", [
    (["missing.txt", "RUN"], "missing.txt"),
    (["QRELS", "BAD"], "bad.run:1"),
    (["QRELS", "RUN", "--data", "QRELS"], "not a data directory"),
])
def test_bad_input_is_one_line_and_the_old_page_survives(cli, write, tmp_path, args, problem):
    files = {"QRELS": write("qrels.txt", "1 0 d1 1\n"), "RUN": write("a.run", "1 Q0 d1 1 1.0 a\n"),
             "BAD": write("bad.run", "1 Q0 d1 1 nan a\n")}
    out = tmp_path / "r.html"
    out.write_text("the old page")
    r = cli("report", *[files.get(a, a) for a in args], "-o", out)
    assert r.code == 2 and problem in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert out.read_text() == "the old page"
