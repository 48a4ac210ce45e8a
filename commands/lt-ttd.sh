#!/usr/bin/env bash
# Real check for LT-TTD (#16). 1) 10-fold CV on the four ../shared/data/llm-ranking sets at K = 5
# and K = all, with TTE's R@K, ms per query and UPQE (NAME.cv.json), and a paired t-test (Holm)
# against the prior, tier2 and tier3-top-layer OOF runs of commands/mllm-cv.sh (out/mllm/SET/cv;
# the prior is run here when they are missing). Ablations (ABLATE sets): distillation
# none/forward/backward/both, joint vs disjoint, tau 0.5/1/2/5, K 3/5/10/all. 2) TREC DL: train on
# DL20's 5,396 passages, retrieve from DL19's 4,297 and let LT rerank TTE's top 100, vs BM25 and
# the frozen bi-encoder on the same pool (lt-ttd with --lr 0 --k 1: TTE as initialised).
# 3) Seeds: K = all with each of SEEDS (default 0 1 2) on SEED_SETS (default all but MMLU-Pro,
# whose CV at K = all takes about 27 min) against the prior -> runs/lt-ttd-SET.seeds.eval.csv.
# PARTS (default cv dl seeds) chooses among 1), 2) and 3).
# Evaluations go to runs/lt-ttd-SET.eval.csv, the CVs' reports (TTE's R@K, UPQE) to
# runs/lt-ttd-SET.report.csv and DL19's to runs/dl19-lt-ttd.eval.csv (docs/experiments/lt-ttd.md's
# tables are generated from them). Work files in out/ltttd/; a CV or run that exists is not
# redone. OMP_NUM_THREADS=1 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
L=${DATA:-../shared/data/llm-ranking}
DL=${DL:-../shared/data/trec-dl}
SETS=${SETS:-mllm-format-arena arena-bench-v1 routerbench-slice mmlu-pro}
ABLATE=${ABLATE:-arena-bench-v1 routerbench-slice}
PARTS=${PARTS:-cv dl seeds}
SEEDS=${SEEDS:-0 1 2}
SEED_SETS=${SEED_SETS-mllm-format-arena arena-bench-v1 routerbench-slice}
OUT=out/ltttd
mkdir -p "$OUT" runs

cv() {  # cv SET NAME [flags...]: one lt-ttd CV into OUT/SET/cv/NAME.run (+ .tte.run, .cv.json)
  local set=$1 name=$2; shift 2
  [ -f "$OUT/$set/cv/$name.run" ] && return
  /usr/bin/time -f "$set lt-ttd $name cv: %e s" llmrank --quiet cv lt-ttd --data "$OUT/$set" "$@" -o "$OUT/$set/cv/$name" \
    | tail -1 | sed "s/^/$set $name: /"
  for f in run tte.run cv.json; do cp "$OUT/$set/cv/$name/lt-ttd.$f" "$OUT/$set/cv/$name.$f"; done
}
evaluate() {  # evaluate CSV RUN...: the set's runs against its prior (paired t-tests, Holm)
  local out=$1; shift
  echo "== $set ($out)"
  llmrank eval "$OUT/$set/qrels.txt" "$base/prior.run" "$@" --baseline "$base/prior.run" --gains "$gains" \
    -m nDCG@10 -m nDCG@5 -m RR --format csv | tee "$out"
  python commands/provenance.py "$out"
}

for set in $SETS; do
  [[ " $PARTS " == *" cv "* || (" $PARTS " == *" seeds "* && " $SEED_SETS " == *" $set "*) ]] || continue
  if [ "$set" = mllm-format-arena ]; then
    [ -f "$OUT/$set/data.json" ] || llmrank --quiet prepare mllm --queries "$L/$set/llm_dev_data.tsv" \
      --qrels "$L/$set/llm_dev_qrels.txt" --layer-states -o "$OUT/$set"
  else
    [ -f "$OUT/$set/data.json" ] || llmrank --quiet prepare items --topics "$L/$set/topics.tsv" \
      --qrels "$L/$set/qrels.txt" --layer-states -o "$OUT/$set"
  fi
  all=$(wc -l < "$OUT/$set/items.txt")
  base=out/mllm/$set/cv  # the prior (and the tiers' OOF runs) of commands/mllm-cv.sh where they exist
  if [ ! -f "$base/prior.run" ]; then
    base=$OUT/$set/cv/baselines
    [ -f "$base/prior.run" ] || llmrank --quiet cv prior --data "$OUT/$set" -o "$base" > /dev/null
  fi
  gains=$(python3 -c "import json; g=json.load(open('$OUT/$set/data.json'))['gains']; print(','.join(f'{k}={v}' for k,v in g.items()))")
  if [[ " $PARTS " == *" seeds "* ]] && [[ " $SEED_SETS " == *" $set "* ]]; then
    runs=()
    for seed in $SEEDS; do
      cv "$set" "kall-seed$seed" --k "$all" --seed "$seed"; runs+=("$OUT/$set/cv/kall-seed$seed.run")
    done
    evaluate "runs/lt-ttd-$set.seeds.eval.csv" "${runs[@]}"
  fi
  [[ " $PARTS " == *" cv "* ]] || continue
  cv "$set" k5 --k 5
  cv "$set" kall --k "$all"
  runs=("$OUT/$set/cv/k5.run" "$OUT/$set/cv/k5.tte.run" "$OUT/$set/cv/kall.run")
  if [[ " $ABLATE " == *" $set "* ]]; then
    for d in none forward backward; do cv "$set" "distill-$d" --k 5 --distill "$d"; runs+=("$OUT/$set/cv/distill-$d.run"); done
    cv "$set" disjoint --k 5 --schedule disjoint; runs+=("$OUT/$set/cv/disjoint.run")
    for t in 0.5 1 5; do cv "$set" "tau-$t" --k 5 --tau "$t"; runs+=("$OUT/$set/cv/tau-$t.run"); done
    for k in 3 10; do cv "$set" "k$k" --k "$k"; runs+=("$OUT/$set/cv/k$k.run"); done
  fi
  for b in two-tower-tier2 llm-cross-encoder-top1; do [ -f "$base/$b.run" ] && runs+=("$base/$b.run"); done
  evaluate "runs/lt-ttd-$set.eval.csv" "${runs[@]}"
  # each CV's report (TTE's R@K, UPQE) in the eval CSV's shape, one row per run and measure
  python3 -c "
import glob, json, sys
print('run,qid,measure,value')
for f in sorted(glob.glob(sys.argv[1] + '/*.cv.json')):
    report = json.load(open(f))['report']
    recall = next(v for k, v in report.items() if k.startswith('TTE R@'))
    for measure, value in (('R@K', recall), ('UPQE', report['UPQE'])):
        print(f'{f.removesuffix(\".cv.json\")}.run,all,{measure},{value:.6g}')
" "$OUT/$set/cv" | tee "runs/lt-ttd-$set.report.csv"
  python commands/provenance.py "runs/lt-ttd-$set.report.csv"
done

# TREC DL: passages as items (frozen all-MiniLM-L6-v2 embeddings), trained on DL20, DL19's pool ranked.
[[ " $PARTS " == *" dl "* ]] || exit 0
for model in ltttd frozen; do
  [ -f "runs/dl19-lt-ttd-$model.run" ] && continue  # a run kept from earlier: only evaluated again
  flags=(--k 100 --epochs 20 --lr 1e-4)  # 20 steps: 54 queries are one batch; see README on this choice
  [ "$model" = frozen ] && flags=(--k 1 --lr 0 --epochs 1)
  [ -f "$OUT/dl20/data.json" ] || llmrank --quiet prepare items --topics "$DL/dl20/topics.tsv" \
    --qrels "$DL/dl20/qrels.txt" --corpus "$DL/dl20/passages.jsonl" --folds 2 --layer-states -o "$OUT/dl20"
  [ -f "$OUT/models/dl20-$model/model.json" ] || /usr/bin/time -f "train lt-ttd $model on DL20: %e s" \
    llmrank --quiet train lt-ttd --data "$OUT/dl20" --all "${flags[@]}" -o "$OUT/models/dl20-$model"
  /usr/bin/time -f "rank DL19 with $model: %e s" \
    llmrank --quiet rank --model "$OUT/models/dl20-$model" --topics "$DL/dl19/topics.tsv" \
    --corpus "$DL/dl19/passages.jsonl" --k 100 --tag "lt-ttd-$model" -o "runs/dl19-lt-ttd-$model.run"
done
echo "== dl19 (trained on dl20)"
llmrank eval "$DL/dl19/qrels.txt" "$DL/dl19/bm25-top100.run" runs/dl19-lt-ttd-frozen.run runs/dl19-lt-ttd-ltttd.run \
  --baseline "$DL/dl19/bm25-top100.run" -m nDCG@10 -m "R(rel=2)@100" -m "AP(rel=2)" --format csv \
  | tee runs/dl19-lt-ttd.eval.csv
python commands/provenance.py runs/dl19-lt-ttd.eval.csv
