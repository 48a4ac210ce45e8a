#!/usr/bin/env bash
# Real check for the LLM rankers: 10-fold CV (folds by query) of prior, random, baseline, tier1,
# tier2, tier3 (the query+LLM-id cross-encoder), knn and ltr (LambdaRank over prior, category,
# kNN, linear, query and response features) on ../shared/data/llm-ranking: the Million
# LLMs track layout (mllm-format-arena), MMLU-Pro, RouterBench slice and Arena. Prints OOF
# nDCG@10 / nDCG@5 / MRR per model and a paired t-test of each model against the prior. On the
# track layout, prior and tier2 are also trained with discovery weak labels (--weak-labels).
# SETS and TIER3_SETS choose the sets (tier3 fine-tunes MiniLM per fold, ~5 queries/s on one
# core: about 6 h on routerbench-slice and 22 h on mmlu-pro, so by default only the arena sets).
# TIER3_TOP_SETS (default: all four) also run tier3 with only the encoder's top layer
# fine-tuned (--train-layers 1, on states of the frozen layers cached once per CV; row
# llm-cross-encoder-top1): minutes on the arena sets and RouterBench, about half an hour on
# mmlu-pro. LTR_ABLATIONS (default: all four sets) also run ltr without each feature group
# (rows ltr-no-GROUP) and STACK_SETS ltr with --stack STACK (default lt-ttd; those sets are
# prepared with --layer-states). The evaluations go to runs/mllm-SET.eval.csv (and .by-category.csv;
# docs/experiments/mllm-cv.md quotes them), work files to out/mllm/; a CV whose run exists is not
# redone, so an interrupted recipe continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
L=${DATA:-../shared/data/llm-ranking}
SETS=${SETS:-mllm-format-arena mmlu-pro routerbench-slice arena-bench-v1}
TIER3_SETS=${TIER3_SETS-mllm-format-arena arena-bench-v1}  # set but empty: none
TIER3_TOP_SETS=${TIER3_TOP_SETS-$SETS}
WEAK=${WEAK:-0.5}
LTR_ABLATIONS=${LTR_ABLATIONS-$SETS}
STACK_SETS=${STACK_SETS-routerbench-slice arena-bench-v1}
STACK=${STACK:-lt-ttd}
OUT=out/mllm
mkdir -p "$OUT"
for set in $SETS; do
  extra=()  # what a set has beside labels: categories, the LLMs' answers to its training queries
  [ -f "$L/$set/categories.tsv" ] && extra+=(--categories "$L/$set/categories.tsv")
  [[ " $STACK_SETS " == *" $set "* ]] && extra+=(--layer-states)
  if [ "$set" = mllm-format-arena ]; then
    [ -d "$OUT/$set" ] || llmrank --quiet prepare mllm --queries "$L/$set/llm_dev_data.tsv" \
      --qrels "$L/$set/llm_dev_qrels.txt" --discovery "$L/$set/llm_discovery_data.json" "${extra[@]}" -o "$OUT/$set"
  else
    [ -f "$L/$set/responses.jsonl" ] && extra+=(--responses "$L/$set/responses.jsonl")
    [ -d "$OUT/$set" ] || llmrank --quiet prepare items --topics "$L/$set/topics.tsv" --qrels "$L/$set/qrels.txt" \
      "${extra[@]}" -o "$OUT/$set"
  fi
  read -ra archs <<< "${ARCHS:-prior random two-tower-baseline two-tower-tier1 two-tower-tier2 knn ltr}"
  [[ " $TIER3_SETS " == *" $set "* ]] && archs+=(llm-cross-encoder)
  runs=()
  for arch in "${archs[@]}"; do
    [ -f "$OUT/$set/cv/$arch.run" ] || /usr/bin/time -f "$set $arch cv: %e s" \
      llmrank --quiet cv "$arch" --data "$OUT/$set" -o "$OUT/$set/cv" > /dev/null
    runs+=("$OUT/$set/cv/$arch.run")
  done
  if [[ " $TIER3_TOP_SETS " == *" $set "* ]]; then
    [ -f "$OUT/$set/cv/llm-cross-encoder-top1.run" ] || { /usr/bin/time -f "$set tier3 top-1 layer cv: %e s" \
      llmrank --quiet cv llm-cross-encoder --train-layers 1 --data "$OUT/$set" -o "$OUT/$set/cv-top1" > /dev/null
      cp "$OUT/$set/cv-top1/llm-cross-encoder.run" "$OUT/$set/cv/llm-cross-encoder-top1.run"; }
    runs+=("$OUT/$set/cv/llm-cross-encoder-top1.run")
  fi
  variants=()  # name:flags of ltr ablations and stacking, each a run ltr-NAME
  if [[ " $LTR_ABLATIONS " == *" $set "* ]]; then
    for group in response knn category; do variants+=("no-$group:--drop $group"); done
  fi
  [[ " $STACK_SETS " == *" $set "* ]] && variants+=("stack-$STACK:--stack $STACK")
  for v in "${variants[@]}"; do
    name=${v%%:*}
    [ -f "$OUT/$set/cv/ltr-$name.run" ] || { /usr/bin/time -f "$set ltr $name cv: %e s" \
      llmrank --quiet cv ltr ${v#*:} --data "$OUT/$set" -o "$OUT/$set/cv-ltr-$name" > /dev/null
      cp "$OUT/$set/cv-ltr-$name/ltr.run" "$OUT/$set/cv/ltr-$name.run"; }
    runs+=("$OUT/$set/cv/ltr-$name.run")
  done
  if [ -f "$OUT/$set/discovery.npz" ]; then
    for arch in prior two-tower-tier2; do
      [ -f "$OUT/$set/cv/$arch+weak.run" ] || { /usr/bin/time -f "$set $arch weak-labels $WEAK cv: %e s" \
        llmrank --quiet cv "$arch" --data "$OUT/$set" --weak-labels "$WEAK" -o "$OUT/$set/cv-weak" > /dev/null
        cp "$OUT/$set/cv-weak/$arch.run" "$OUT/$set/cv/$arch+weak.run"; }
      runs+=("$OUT/$set/cv/$arch+weak.run")
    done
  fi
  gains=$(python3 -c "import json; g=json.load(open('$OUT/$set/data.json'))['gains']; print(','.join(f'{k}={v}' for k,v in g.items()))")
  echo "== $set"
  llmrank eval "$OUT/$set/qrels.txt" "${runs[@]}" --baseline "$OUT/$set/cv/prior.run" --gains "$gains" \
    -m nDCG@10 -m nDCG@5 -m RR --format csv | tee "$OUT/$set/cv/eval.csv" "runs/mllm-$set.eval.csv"
  if [ -f "$OUT/$set/categories.tsv" ]; then
    llmrank eval "$OUT/$set/qrels.txt" "$OUT/$set/cv/prior.run" "$OUT/$set/cv/knn.run" "$OUT/$set/cv/ltr.run" \
      --baseline "$OUT/$set/cv/prior.run" --gains "$gains" -m nDCG@10 --by "$OUT/$set/categories.tsv" --format csv \
      | tee "runs/mllm-$set.by-category.csv" > "$OUT/$set/cv/eval-by-category.csv"
  fi
done
