#!/usr/bin/env bash
# Real check for the LLM rankers: 10-fold CV (folds by query) on ../shared/data/llm-ranking: the
# Million LLMs track layout (mllm-format-arena), MMLU-Pro, RouterBench slice and Arena. PARTS
# (default both) chooses what runs; each part evaluates its runs in one call (OOF nDCG@10 /
# nDCG@5 / MRR, a paired t-test of each against the prior, Holm over the part's runs):
# - tiers: prior, random, the two-tower presets (baseline, tier1, tier2), tier3 (the query+LLM-id
#   cross-encoder, llm-cross-encoder) on TIER3_SETS (it fine-tunes MiniLM per fold, ~5 queries/s
#   on one core: about 6 h on routerbench-slice and 22 h on mmlu-pro, so by default only the arena
#   sets), tier3 with only the encoder's top layer fine-tuned on TIER3_TOP_SETS (default all;
#   --train-layers 1, on states of the frozen layers cached once per CV; run
#   llm-cross-encoder-top1: minutes on the arena sets and RouterBench, about half an hour on
#   mmlu-pro), and on the track layout prior and tier2 trained with discovery weak labels
#   (--weak-labels WEAK; runs NAME+weak) -> runs/mllm-SET.tiers.eval.csv.
# - ltr: prior, knn and ltr (LambdaRank over prior, category, kNN, linear, query and response
#   features), on LTR_ABLATIONS sets (default all) ltr without each feature group (runs
#   ltr-no-GROUP) and on STACK_SETS ltr with --stack STACK (default lt-ttd; those sets are
#   prepared with --layer-states) -> runs/mllm-SET.eval.csv and, where a set has categories,
#   runs/mllm-SET.by-category.csv.
# - profile: on the sets with answers to read (discovery answers or responses), prior, knn, ltr,
#   the profile ranker (BM25 over each LLM's substantive answers), its document-centric variant
#   (--documents answers), profiles of relevant answers only (--evidence relevant) and ltr with
#   --stack profile -> runs/mllm-SET.profile.eval.csv.
# - seeds: on SEED_SETS (default all) SEED_RANKERS (default ltr, lt-ttd, tier2 and tier3's top
#   layer, llm-cross-encoder-top1: that one on SEED_TIER3_SETS, default all but MMLU-Pro: 72 s a
#   CV on Arena, 10 min on RouterBench, 22-29 min on MMLU-Pro; lt-ttd where the set has layer
#   states, STACK_SETS), each with SEEDS (default 0 1 2) as --seed, and the prior ->
#   runs/mllm-SET.seeds.eval.csv: the seeds' spread beside each Δ against the prior.
# docs/experiments/mllm-cv.md's tables are generated from those files (commands/make_docs.py).
# Work files go to out/mllm/; a CV whose run exists is not redone, so an interrupted recipe
# continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
L=${DATA:-../shared/data/llm-ranking}
SETS=${SETS:-mllm-format-arena mmlu-pro routerbench-slice arena-bench-v1}
PARTS=${PARTS:-tiers ltr profile seeds}
SEEDS=${SEEDS:-0 1 2}
SEED_SETS=${SEED_SETS-$SETS}
SEED_RANKERS=${SEED_RANKERS:-ltr lt-ttd two-tower-tier2 llm-cross-encoder-top1}
SEED_TIER3_SETS=${SEED_TIER3_SETS-mllm-format-arena routerbench-slice arena-bench-v1}
declare -A VARIANT=([llm-cross-encoder-top1]="llm-cross-encoder --train-layers 1")  # NAME -> ARCH FLAGS...
TIER3_SETS=${TIER3_SETS-mllm-format-arena arena-bench-v1}  # set but empty: none
TIER3_TOP_SETS=${TIER3_TOP_SETS-$SETS}
WEAK=${WEAK:-0.5}
LTR_ABLATIONS=${LTR_ABLATIONS-$SETS}
STACK_SETS=${STACK_SETS-routerbench-slice arena-bench-v1}
STACK=${STACK:-lt-ttd}
OUT=out/mllm
mkdir -p "$OUT"
cv() {  # cv ARCH: one CV with the ranker's defaults into OUT/SET/cv/ARCH.run (an interrupted one resumed)
  [ -f "$OUT/$set/cv/$1.run" ] && return
  local resume=(); [ -d "$OUT/$set/cv/$1.folds" ] && resume=(--resume)
  /usr/bin/time -f "$set $1 cv: %e s" llmrank --quiet cv "$1" "${resume[@]}" --data "$OUT/$set" \
    -o "$OUT/$set/cv" > /dev/null
}
cv_variant() {  # cv_variant ARCH SUFFIX FLAGS...: a CV with FLAGS (an interrupted one resumed), its run
  # kept as OUT/SET/cv/ARCHSUFFIX.run
  local arch=$1 name=$1$2; shift 2
  [ -f "$OUT/$set/cv/$name.run" ] && return
  local resume=(); [ -d "$OUT/$set/cv-$name" ] && resume=(--resume)
  /usr/bin/time -f "$set $name cv: %e s" llmrank --quiet cv "$arch" "$@" "${resume[@]}" --data "$OUT/$set" \
    -o "$OUT/$set/cv-$name" > /dev/null
  cp "$OUT/$set/cv-$name/$arch.run" "$OUT/$set/cv/$name.run"
}
evaluate() {  # evaluate CSV RUN...: OOF measures of SET's runs, paired tests against its prior
  local out=$1; shift
  echo "== $set ($out)"
  llmrank eval "$OUT/$set/qrels.txt" "$@" --baseline "$OUT/$set/cv/prior.run" --gains "$gains" \
    -m nDCG@10 -m nDCG@5 -m RR --format csv | tee "$out"
  python commands/provenance.py "$out"
}
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
  gains=$(python3 -c "import json; g=json.load(open('$OUT/$set/data.json'))['gains']; print(','.join(f'{k}={v}' for k,v in g.items()))")
  if [[ " $PARTS " == *" tiers "* ]]; then
    archs=(prior random two-tower-baseline two-tower-tier1 two-tower-tier2)
    [[ " $TIER3_SETS " == *" $set "* ]] && archs+=(llm-cross-encoder)
    runs=()
    for arch in "${archs[@]}"; do cv "$arch"; runs+=("$OUT/$set/cv/$arch.run"); done
    if [[ " $TIER3_TOP_SETS " == *" $set "* ]]; then
      cv_variant llm-cross-encoder -top1 --train-layers 1; runs+=("$OUT/$set/cv/llm-cross-encoder-top1.run")
    fi
    if [ -f "$OUT/$set/discovery.npz" ]; then
      for arch in prior two-tower-tier2; do cv_variant "$arch" +weak --weak-labels "$WEAK"; runs+=("$OUT/$set/cv/$arch+weak.run"); done
    fi
    evaluate "runs/mllm-$set.tiers.eval.csv" "${runs[@]}"
  fi
  if [[ " $PARTS " == *" profile "* ]] && [ -f "$OUT/$set/evidence.jsonl" -o -f "$OUT/$set/responses.jsonl" ]; then
    runs=()
    for arch in prior knn ltr profile; do cv "$arch"; runs+=("$OUT/$set/cv/$arch.run"); done
    cv_variant profile -answers --documents answers; runs+=("$OUT/$set/cv/profile-answers.run")
    [ -f "$OUT/$set/responses.jsonl" ] && { cv_variant profile -relevant --evidence relevant; runs+=("$OUT/$set/cv/profile-relevant.run"); }
    cv_variant ltr -stack-profile --stack profile; runs+=("$OUT/$set/cv/ltr-stack-profile.run")
    evaluate "runs/mllm-$set.profile.eval.csv" "${runs[@]}"
  fi
  if [[ " $PARTS " == *" seeds "* ]] && [[ " $SEED_SETS " == *" $set "* ]]; then
    cv prior; runs=("$OUT/$set/cv/prior.run")
    for name in $SEED_RANKERS; do
      [[ $name == llm-cross-encoder* && " $SEED_TIER3_SETS " != *" $set "* ]] && continue
      [[ $name == lt-ttd && " $STACK_SETS " != *" $set "* ]] && continue  # it reads layer states
      read -ra call <<< "${VARIANT[$name]:-$name}"  # the ranker, then its flags
      for seed in $SEEDS; do
        cv_variant "${call[0]}" "${name#"${call[0]}"}-seed$seed" "${call[@]:1}" --seed "$seed"
        runs+=("$OUT/$set/cv/$name-seed$seed.run")
      done
    done
    evaluate "runs/mllm-$set.seeds.eval.csv" "${runs[@]}"
  fi
  [[ " $PARTS " == *" ltr "* ]] || continue
  runs=()
  for arch in prior knn ltr; do cv "$arch"; runs+=("$OUT/$set/cv/$arch.run"); done
  if [[ " $LTR_ABLATIONS " == *" $set "* ]]; then
    for group in response knn category; do cv_variant ltr "-no-$group" --drop "$group"; runs+=("$OUT/$set/cv/ltr-no-$group.run"); done
  fi
  [[ " $STACK_SETS " == *" $set "* ]] && { cv_variant ltr "-stack-$STACK" --stack "$STACK"; runs+=("$OUT/$set/cv/ltr-stack-$STACK.run"); }
  evaluate "runs/mllm-$set.eval.csv" "${runs[@]}"
  if [ -f "$OUT/$set/categories.tsv" ]; then
    llmrank eval "$OUT/$set/qrels.txt" "$OUT/$set/cv/prior.run" "$OUT/$set/cv/knn.run" "$OUT/$set/cv/ltr.run" \
      --baseline "$OUT/$set/cv/prior.run" --gains "$gains" -m nDCG@10 --by "$OUT/$set/categories.tsv" --format csv \
      | tee "runs/mllm-$set.by-category.csv" > "$OUT/$set/cv/eval-by-category.csv"
    python commands/provenance.py "runs/mllm-$set.by-category.csv"
  fi
done
