#!/usr/bin/env bash
# `llmrank report` on TREC DL 2019: the four shared first-stage runs and four of the project's
# rerankers, BM25 the baseline, queries grouped by their first word. Writes out/report-dl19.html
# and the screenshot the README shows (docs/report-dl19.png, Debian's headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
D=${DATA:-../shared/data/trec-dl}/dl19
mkdir -p out
awk -F'\t' '{ split($2, w, " "); c = (w[1] ~ /^(what|how|who|define|when|why|where)$/) ? w[1] : "other";
              print $1 "\t" c }' "$D/topics.tsv" > out/dl19-question-word.tsv
llmrank report "$D/qrels.txt" "$D"/{bm25,bm25-rm3,splade-pp-ed,tasb}-top100.run \
  runs/dl19-{minilm-bi,icr-top100,lr-point-s1,listwise-top20}.run --baseline "$D/bm25-top100.run" \
  --topics "$D/topics.tsv" --corpus "$D/passages.jsonl" --by out/dl19-question-word.tsv -o out/report-dl19.html
chromium --headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --window-size=1300,1500 \
  --screenshot="$PWD/docs/report-dl19.png" "file://$PWD/out/report-dl19.html" 2>/dev/null
echo "out/report-dl19.html ($(du -h out/report-dl19.html | cut -f1)), docs/report-dl19.png" >&2
