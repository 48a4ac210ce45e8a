#!/usr/bin/env bash
# Real check for the LLM rerankers (#42) with SmolLM2-135M-Instruct (smollm2-135m, offline), on
# DL19 and DL20's BM25 runs: listwise (RankZephyr's prompt, greedy) on the top 20 (one window) and
# the top 100 (window 20, stride 10: 9 windows a query), pointwise (yes/no log-odds) on the top 20
# and the top 100. nDCG@10 and RR(rel=2)@10 with paired t-tests (Holm) against BM25, written to
# runs/YEAR-llm-rerank.eval.csv, from which docs/experiments/llm-rerank.md's tables are generated
# (python commands/make_docs.py). A run whose file exists is skipped; an interrupted one continues
# (--resume; listwise answers come back from the response cache).
# On 2 cores SmolLM2 reads a 20-passage window in about 17 s (prefill of ~2k tokens) and a
# pointwise prompt in about 0.5 s: the top 20 takes 12-15 min a kind and year, the top 100 about
# 40 min (pointwise) and 2 h (listwise) a year. TOP100=0 skips the top-100 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
DL=${DL:-../shared/data/trec-dl}
LM=${LM:-smollm2-135m}
YEARS=${YEARS:-"dl19 dl20"}
TOP100=${TOP100:-1}
mkdir -p runs

rerank() {  # rerank YEAR KIND DEPTH
  local year=$1 kind=$2 depth=$3 out="runs/$1-$2-top$3.run"
  [ -f "$out" ] && return
  resume=(); [ -f "$out.partial" ] && resume=(--resume)
  /usr/bin/time -f "$(basename "$out"): %e s, %M KB" llmrank --quiet rerank --kind "$kind" --model "$LM" \
    --run "$DL/$year/bm25-top100.run" --topics "$DL/$year/topics.tsv" --corpus "$DL/$year/passages.jsonl" \
    --depth "$depth" --tag "$kind-top$depth" "${resume[@]}" -o "$out"
}

for year in $YEARS; do
  rerank "$year" listwise 20
  rerank "$year" pointwise 20
  if [ "$TOP100" = 1 ]; then
    rerank "$year" pointwise 100
    rerank "$year" listwise 100
  fi
  runs=()
  for r in "runs/$year-listwise-top20.run" "runs/$year-pointwise-top20.run" "runs/$year-pointwise-top100.run" \
           "runs/$year-listwise-top100.run"; do
    [ -f "$r" ] && runs+=("$r")
  done
  echo "== $year"
  llmrank eval "$DL/$year/qrels.txt" "$DL/$year/bm25-top100.run" "${runs[@]}" --baseline "$DL/$year/bm25-top100.run" \
    -m nDCG@10 -m "RR(rel=2)@10" --format csv | tee "runs/$year-llm-rerank.eval.csv"
  python commands/provenance.py "runs/$year-llm-rerank.eval.csv"
done
