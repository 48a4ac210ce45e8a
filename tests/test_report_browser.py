"""`llmrank report`'s page in a real browser: Debian's headless Chromium driven by selenium through
the system chromedriver (commands/test.sh installs both where they are missing). The DL19 page
of eight runs loads with no console error, shows `eval`'s numbers, opens a query from its bar;
a page of hostile text runs none of it. Screenshots go to build/test-artefacts/."""
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = Path(os.environ.get("LLMRANK_TEST_ARTEFACTS", ROOT / "build" / "test-artefacts"))
DL19_RUNS = [("trec-dl", "dl19", r) for r in ("bm25-top100.run", "bm25-rm3-top100.run", "splade-pp-ed-top100.run",
                                               "tasb-top100.run")]
PROJECT_RUNS = ("dl19-minilm-bi.run", "dl19-icr-top100.run", "dl19-lr-point-s1.run", "dl19-listwise-top20.run")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,2000")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("Debian's chromium and chromium-driver are needed: ./commands/test.sh installs them "
                    "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def _load(browser, page: Path) -> None:
    browser.get(page.as_uri())
    browser.get_log("browser")  # start each page with an empty log


def _errors(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def _no_dialog(browser) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        browser.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_the_dl19_page_shows_evals_numbers_and_opens_a_query_from_its_bar(cli, browser, tmp_path):
    from selenium.webdriver.common.by import By

    dl19 = shared("trec-dl", "dl19")
    runs = [str(shared(*r)) for r in DL19_RUNS] + [str(ROOT / "runs" / r) for r in PROJECT_RUNS]
    categories = tmp_path / "question-word.tsv"
    first_words = (line.split("\t") for line in (dl19 / "topics.tsv").read_text().splitlines())
    categories.write_text("".join(f"{qid}\t{w if (w := text.split()[0]) in ('what', 'how', 'who') else 'other'}\n"
                                  for qid, text in first_words))
    out = tmp_path / "dl19.html"
    r = cli("--quiet", "report", dl19 / "qrels.txt", *runs, "--baseline", runs[0], "--topics", dl19 / "topics.tsv",
            "--corpus", dl19 / "passages.jsonl", "--by", categories, "-o", out)
    assert r.code == 0, r.err
    assert out.stat().st_size < 5_000_000
    _load(browser, out)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0  # no fetches
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "report-dl19.png"))

    evaluated = {}
    for line in cli("eval", dl19 / "qrels.txt", *runs, "--format", "csv").out.splitlines()[1:]:
        run, _, _, value = line.split(",")
        evaluated.setdefault(run, []).append(value)
    shown = {row.get_attribute("data-run"): [td.text for td in row.find_elements(By.CSS_SELECTOR, "td.value")]
             for row in browser.find_elements(By.CSS_SELECTOR, "#summary tbody tr")}
    assert shown == evaluated
    assert len(browser.find_elements(By.CSS_SELECTOR, "#categories tbody tr")) == len(
        set(line.split("\t")[1] for line in categories.read_text().splitlines()))

    bar = browser.find_elements(By.CSS_SELECTOR, "figure.perquery a")[0]
    anchor = browser.execute_script("return arguments[0].href.baseVal", bar)[1:]
    assert bar.find_element(By.TAG_NAME, "title").get_attribute("textContent").endswith(
        browser.execute_script("return JSON.parse(arguments[0].closest('figure').dataset.tips)[arguments[1]]",
                               bar, anchor))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)
    bar.click()
    assert browser.execute_script("return location.hash") == f"#{anchor}"
    section = browser.find_element(By.ID, anchor)
    assert section.is_displayed()
    qid = section.find_element(By.TAG_NAME, "h3").text.split(":")[0]
    columns = section.find_elements(By.CSS_SELECTOR, ".column")
    assert len(columns) == len(runs)
    top = [line.split()[2] for line in Path(runs[1]).read_text().splitlines() if line.split()[0] == qid][:10]
    assert [d.get_attribute("data-doc") for d in columns[1].find_elements(By.CSS_SELECTOR, ".doc")] == top
    assert section.find_elements(By.CSS_SELECTOR, "svg.gap line"), "no rank movement drawn"
    browser.execute_script("arguments[0].scrollIntoView()", section)
    browser.save_screenshot(str(ARTEFACTS / "report-dl19-query.png"))
    assert _errors(browser) == [] and _no_dialog(browser)


def test_hostile_text_shows_as_text_and_runs_nothing(cli, browser, write, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    hostile = {
        "d1": "<script>alert('passage')</script>",
        "d2": "</textarea></details></section><a href=\"javascript:alert('link')\">click</a>",
        "d3": "\"><img src=x onerror=alert('img')>",
    }
    qrels = write("q.txt", "1 0 d1 1\n1 0 d2 0\n1 0 d3 2\n")
    run_a = write("a.run", "1 Q0 d1 1 3.0 <svg/onload=alert('tag')>\n1 Q0 d2 2 2.0 x\n1 Q0 d3 3 1.0 x\n")
    run_b = write("b.run", "1 Q0 d3 1 3.0 b\n1 Q0 d2 2 2.0 b\n1 Q0 d1 3 1.0 b\n")
    topics = write("t.tsv", "1\t<script>alert('topic')</script> passage\n")
    corpus = write("c.jsonl", "".join(json.dumps({"id": k, "contents": v}) + "\n" for k, v in hostile.items()))
    out = tmp_path / "hostile.html"
    assert cli("--quiet", "report", qrels, run_a, run_b, "--topics", topics, "--corpus", corpus, "-o", out).code == 0
    _load(browser, out)
    Select(browser.find_element(By.ID, "picker")).select_by_index(1)
    section = browser.find_element(By.CSS_SELECTOR, ".query:target")
    assert section.find_element(By.TAG_NAME, "h3").text == "1: <script>alert('topic')</script> passage"
    for summary in section.find_elements(By.TAG_NAME, "summary"):
        summary.click()
    texts = [p.text for p in section.find_elements(By.CSS_SELECTOR, ".doc p")]
    assert set(texts) == set(hostile.values())
    links = section.find_elements(By.CSS_SELECTOR, ".doc p a")
    assert not links and not browser.find_elements(By.CSS_SELECTOR, "img")
    assert "<svg/onload=alert('tag')>" in browser.find_element(By.ID, "summary").text
    browser.save_screenshot(str(ARTEFACTS / "report-hostile.png"))
    assert _no_dialog(browser) and _errors(browser) == []
