#!/usr/bin/env bash
# Real check for the BM25 first stage: Vaswani, Cranfield and CISI from ../shared/data/collections,
# each in its original format: prepare (corpus, topics, qrels) -> index -> rank -> eval.
# The evaluations go to runs/classic-NAME.eval.csv (docs/experiments/classic-collections.md's table is
# generated from them); the qrels to qrels/ (committed: tests check that `prepare qrels` still writes
# them byte for byte), work files to out/classic/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
DATA=${DATA:-../shared/data/collections}
OUT=out/classic
rm -rf "$OUT" && mkdir -p "$OUT"
prepare() {  # name corpus topics qrels [topic options...]
  local name=$1 corpus=$2 topics=$3 qrels=$4; shift 4
  llmrank --quiet prepare corpus "$DATA/$name/$corpus" -o "$OUT/$name.jsonl"
  llmrank --quiet prepare topics "$DATA/$name/$topics" -o "$OUT/$name.topics.tsv" "$@"
  llmrank --quiet prepare qrels "$DATA/$name/$qrels" -o "qrels/$name.qrels"
  llmrank --quiet prepare index "$OUT/$name.jsonl" -o "$OUT/$name.index"
  llmrank --quiet rank --model bm25 --index "$OUT/$name.index" --topics "$OUT/$name.topics.tsv" --k 1000 \
    --tag "bm25-$name" -o "$OUT/$name.bm25.run"
}
prepare vaswani doc-text.trec query-text.trec qrels
prepare cranfield cran.all.1400 cran.qry cranqrel --number-by-position
prepare cisi CISI.ALL CISI.QRY CISI.REL
for name in vaswani cranfield cisi; do
  llmrank eval "qrels/$name.qrels" "$OUT/$name.bm25.run" -m map -m ndcg_cut.10 -m P.10 -m recall.1000 -m num_q \
    --format csv | tee "runs/classic-$name.eval.csv"
  python commands/provenance.py "runs/classic-$name.eval.csv"
done
