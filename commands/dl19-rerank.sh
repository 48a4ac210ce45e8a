#!/usr/bin/env bash
# Real check for `llmrank rerank`: BM25 top-100 vs the all-MiniLM-L6-v2 bi-encoder rerank on
# TREC DL 2019 and 2020 (../shared/data/trec-dl), with the seed thesis' measures and a paired
# t-test against BM25. Writes runs/ and prints the tables quoted in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
DATA=${DATA:-../shared/data/trec-dl}
mkdir -p runs
M=(-m nDCG@10 -m "AP(rel=2)" -m "R(rel=2)@10" -m "Rprec(rel=2)" -m "P(rel=2)@10" -m "RR(rel=2)@10")
for year in dl19 dl20; do
  D="$DATA/$year"
  llmrank rerank --run "$D/bm25-top100.run" --topics "$D/topics.tsv" --corpus "$D/passages.jsonl" \
    --model all-MiniLM-L6-v2 --kind bi --depth 100 --tag minilm-bi -o "runs/$year-minilm-bi.run"
  echo "== $year"
  llmrank eval "$D/qrels.txt" "$D/bm25-top100.run" "runs/$year-minilm-bi.run" --baseline "$D/bm25-top100.run" \
    "${M[@]}" --format csv | tee "runs/$year-minilm-bi.eval.csv"
  python commands/provenance.py "runs/$year-minilm-bi.eval.csv"
done
