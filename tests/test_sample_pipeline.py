"""The embedded sample through the CLI: sample -> validate -> eval -> fuse -> eval."""
import json


def test_sample_pipeline(cli, tmp_path):
    out = tmp_path / "s"
    assert cli("sample", out).code == 0
    p = out / "passages"
    topics = (p / "topics.tsv").read_text().splitlines()
    assert 10 <= len(topics) <= 20
    assert 200 <= len((p / "corpus.jsonl").read_text().splitlines()) <= 400
    labels = {line.split()[3] for line in (p / "qrels.txt").read_text().splitlines()}
    assert labels == {"0", "1", "2", "3"}
    assert cli("validate", p / "bm25.run", "--qrels", p / "qrels.txt", "--topics", p / "topics.tsv").code == 0
    r = cli("eval", p / "qrels.txt", p / "bm25.run", p / "qld.run", "-m", "nDCG@10", "--format", "json")
    runs = {x["run"].rsplit("/", 1)[-1]: x["aggregate"]["nDCG@10"] for x in json.loads(r.out)["runs"]}
    assert runs["bm25.run"] > 0.5 and runs["qld.run"] > 0.5  # real first stages find the topic passages
    fused = tmp_path / "rrf.run"
    assert cli("fuse", p / "bm25.run", p / "qld.run", "-o", fused).code == 0
    assert cli("validate", fused).code == 0
    llm = out / "llm"
    assert len((llm / "topics.tsv").read_text().splitlines()) == 30
    assert len((llm / "llms.txt").read_text().splitlines()) == 12
    assert cli("sample", out).code == 2  # refuses to overwrite
