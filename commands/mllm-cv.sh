#!/usr/bin/env bash
# Real check for the LLM rankers: 10-fold CV (folds by query) of prior, random, baseline, tier1
# and tier2 on ../shared/data/llm-ranking: the Million LLMs track layout (mllm-format-arena),
# MMLU-Pro, RouterBench slice and Arena. Prints OOF nDCG@10 / nDCG@5 / MRR per model and a
# paired t-test of each model against the prior. Work files in out/mllm/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
L=${DATA:-../shared/data/llm-ranking}
OUT=out/mllm
mkdir -p "$OUT"
[ -d "$OUT/mllm-format-arena" ] || llmrank --quiet prepare mllm --queries "$L/mllm-format-arena/llm_dev_data.tsv" \
  --qrels "$L/mllm-format-arena/llm_dev_qrels.txt" --discovery "$L/mllm-format-arena/llm_discovery_data.json" \
  -o "$OUT/mllm-format-arena"
for set in mmlu-pro routerbench-slice arena-bench-v1; do
  [ -d "$OUT/$set" ] || llmrank --quiet prepare items --topics "$L/$set/topics.tsv" --qrels "$L/$set/qrels.txt" -o "$OUT/$set"
done
for set in mllm-format-arena mmlu-pro routerbench-slice arena-bench-v1; do
  runs=()
  for arch in prior random baseline tier1 tier2; do
    /usr/bin/time -f "$set $arch cv: %e s" llmrank --quiet cv "$arch" --data "$OUT/$set" -o "$OUT/$set/cv" > /dev/null
  done
  gains=$(python3 -c "import json,sys; g=json.load(open('$OUT/$set/data.json'))['gains']; print(','.join(f'{k}={v}' for k,v in g.items()))")
  echo "== $set"
  llmrank eval "$OUT/$set/qrels.txt" "$OUT/$set/cv/prior.run" "$OUT/$set/cv/random.run" \
    "$OUT/$set/cv/two-tower-baseline.run" "$OUT/$set/cv/two-tower-tier1.run" "$OUT/$set/cv/two-tower-tier2.run" \
    --baseline "$OUT/$set/cv/prior.run" --gains "$gains" -m nDCG@10 -m nDCG@5 -m RR --format csv | tee "$OUT/$set/cv/eval.csv"
done
