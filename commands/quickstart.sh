#!/usr/bin/env bash
# Set up .venv and run the main job on the embedded sample: write the sample out, validate
# its runs, evaluate BM25 vs query likelihood with a paired test, fuse them, evaluate again,
# and turn a run into a Million LLMs submission and back. Outputs land in out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
OUT=out/quickstart
rm -rf "$OUT" && mkdir -p "$OUT"
llmrank sample "$OUT/sample"
P="$OUT/sample/passages"
llmrank validate "$P/bm25.run" "$P/qld.run" --qrels "$P/qrels.txt" --topics "$P/topics.tsv"
M=(-m nDCG@10 -m "AP(rel=2)" -m "RR(rel=2)@10" -m "P(rel=2)@10" -m R@50)
llmrank eval "$P/qrels.txt" "$P/bm25.run" "$P/qld.run" --baseline "$P/bm25.run" "${M[@]}"
llmrank fuse "$P/bm25.run" "$P/qld.run" --method rrf -o "$OUT/rrf.run"
llmrank eval "$P/qrels.txt" "$P/bm25.run" "$OUT/rrf.run" --baseline "$P/bm25.run" "${M[@]}" --test permutation
llmrank eval "$P/qrels.txt" "$OUT/rrf.run" -m ndcg_cut.10 -m map -l 2 --format trec | tee "$OUT/rrf.eval"
llmrank convert "$OUT/rrf.run" --to mllm --team-id quickstart -o "$OUT/rrf.submission.csv"
llmrank convert "$OUT/rrf.submission.csv" --to trec -o "$OUT/rrf.roundtrip.run"
cmp <(cut -d' ' -f1-5 "$OUT/rrf.run") <(cut -d' ' -f1-5 "$OUT/rrf.roundtrip.run")
echo "quickstart done: outputs in $OUT/" >&2
