#!/usr/bin/env bash
# Set up .venv and run the main job on the embedded sample: write the sample out, index its
# passages with Lucene and rank them with BM25 (pyserini), rerank the top 20 with the
# all-MiniLM-L6-v2 bi-encoder, evaluate BM25 vs the rerank with a paired test, fuse runs, and
# turn a run into a Million LLMs submission and back. Outputs land in out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
OUT=out/quickstart
rm -rf "$OUT" && mkdir -p "$OUT"
llmrank sample "$OUT/sample"
P="$OUT/sample/passages"
llmrank --quiet prepare index "$P/corpus.jsonl" -o "$OUT/index" --store-raw
llmrank rank --model bm25 --index "$OUT/index" --topics "$P/topics.tsv" --k 100 -o "$OUT/bm25.run"
llmrank validate "$OUT/bm25.run" --qrels "$P/qrels.txt" --topics "$P/topics.tsv"
llmrank rerank --run "$OUT/bm25.run" --topics "$P/topics.tsv" --corpus "$OUT/index" \
  --model all-MiniLM-L6-v2 --kind bi --depth 20 -o "$OUT/minilm.run"
M=(-m nDCG@10 -m "AP(rel=2)" -m "RR(rel=2)@10" -m "P(rel=2)@10" -m R@50)
llmrank eval "$P/qrels.txt" "$OUT/bm25.run" "$OUT/minilm.run" "$P/qld.run" --baseline "$OUT/bm25.run" "${M[@]}"
llmrank fuse "$OUT/bm25.run" "$OUT/minilm.run" --method rrf -o "$OUT/rrf.run"
llmrank eval "$P/qrels.txt" "$OUT/rrf.run" -m ndcg_cut.10 -m map -l 2 --format trec | tee "$OUT/rrf.eval"
llmrank convert "$OUT/minilm.run" --format mllm --team-id quickstart -o "$OUT/minilm.submission.csv"
llmrank convert "$OUT/minilm.submission.csv" --format trec -o "$OUT/minilm.roundtrip.run"
cmp <(cut -d' ' -f1-5 "$OUT/minilm.run") <(cut -d' ' -f1-5 "$OUT/minilm.roundtrip.run")
echo "quickstart done: outputs in $OUT/" >&2
