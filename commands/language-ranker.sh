#!/usr/bin/env bash
# Real check for the Language Ranker (#17) on SmolLM2-135M's layer-18 states (smollm2-135m):
# 1) DL20 -> DL19: language-ranker-list and -point trained on DL20's BM25 top-100 (54 queries,
#    5,396 pairs; groups of 16, 200 per query, positives rel >= 2) with seeds 1-3, reranking
#    DL19's BM25 top-100; ablations with seed 1: without the instruction state, 2 blocks, and
#    with DEPTHS=1 depth 0.3 and 1.0 (new states: 20-40 min each); setup 1b (DISTIL=1): both
#    rankers distil the MiniLM bi-encoder's scores on DL20's top 100 and 800 MS MARCO dev
#    queries' top 8 (commands/dl20-dev-teacher.sh; MSE, no qrels). Paired t-tests (Holm) vs
#    BM25, the MiniLM bi-encoder and distilled cross-encoder listed when their runs exist
#    (commands/dl19-rerank.sh); then nDCG@10 mean +- sd over the seeds.
# 2) The seed's task, 10-fold CV: routerbench-slice (correct/wrong, binary labels) and
#    arena-bench-v1 (GPT-4's 1-10 scores from scores.tsv, graded labels, MSE): the label of the
#    top-ranked answer against a random pick, the prior (best mean training label) and the
#    oracle, with the paired t-test against the prior (on stderr) -> runs/language-ranker-SET.report.csv,
#    from which docs/experiments/language-ranker.md's table is generated. DL_PART=0 runs only this part.
#    On LLM_SEED_SETS (default both) the same CVs with each of SEEDS (default 0 1 2) ->
#    runs/language-ranker-SET.seeds.csv (the seeds' spread beside the loss to the prior).
# LM states are cached on disk ($LLMRANK_CACHE, default ~/.cache/llmrank): the first pass
# extracts them (2 cores: DL19 + DL20 about 19 min, RouterBench about 30, Arena about 22), later
# passes read them. Work files in out/lr/; runs in runs/; a step whose output exists is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
DL=${DL:-../shared/data/trec-dl}
L=${DATA:-../shared/data/llm-ranking}
LM=${LM:-smollm2-135m}
DEPTHS=${DEPTHS:-0}
DISTIL=${DISTIL:-1}  # 0 skips setup 1b (new states of 800 dev queries' top 8: about 20 min)
DL_PART=${DL_PART:-1}  # 0: only the seed's task
LLM_SETS=${LLM_SETS-routerbench-slice arena-bench-v1}  # set but empty: DL only
LLM_SEED_SETS=${LLM_SEED_SETS-$LLM_SETS}  # the seed's task also with each of SEEDS (CVs from the cached states)
SEEDS=${SEEDS:-0 1 2}
OUT=out/lr
mkdir -p "$OUT/models" runs

variant() {  # variant NAME RANKER SEED [flags...]: train on DL20 (by default its qrels), rerank DL19's top 100
  local name=$1 ranker=$2 seed=$3; shift 3
  local data=(--topics "$DL/dl20/topics.tsv" --qrels "$DL/dl20/qrels.txt" --run "$DL/dl20/bm25-top100.run"
              --group-size 16 --rel-level 2)
  [ "${1-}" = --teacher-run ] && data=(--topics out/distil-dev/topics.tsv --group-size 8)  # dev pools: 8 passages
  [ -f "runs/dl19-lr-$name.run" ] && return
  [ -f "$OUT/models/$name/model.json" ] || llmrank --quiet train "$ranker" --lm "$LM" "${data[@]}" \
    --corpus "$DL/dl20/passages.jsonl" --groups-per-query 200 --seed "$seed" --all "$@" -o "$OUT/models/$name"
  llmrank --quiet rerank --kind language-ranker --model "$OUT/models/$name" \
    --run "$DL/dl19/bm25-top100.run" --topics "$DL/dl19/topics.tsv" --corpus "$DL/dl19/passages.jsonl" \
    --depth 100 --tag "lr-$name" -o "runs/dl19-lr-$name.run"
}

if [ "$DL_PART" = 1 ]; then
runs=()
for kind in list point; do
  for seed in 1 2 3; do
    variant "$kind-s$seed" "language-ranker-$kind" "$seed"
    runs+=("runs/dl19-lr-$kind-s$seed.run")
  done
done
variant list-no-instruction language-ranker-list 1 --no-instruction
variant list-2-blocks language-ranker-list 1 --blocks 2
runs+=(runs/dl19-lr-list-no-instruction.run runs/dl19-lr-list-2-blocks.run)
if [ "$DEPTHS" = 1 ]; then
  for f in 0.3 1.0; do
    variant "list-depth-$f" language-ranker-list 1 --layer-fraction "$f"
    runs+=("runs/dl19-lr-list-depth-$f.run")
  done
fi
if [ "$DISTIL" = 1 ]; then  # setup 1b: learn the bi-encoder's scores (graded labels, MSE), no qrels
  teacher=$OUT/teacher-8.run  # queries with a full pool of 8 (a few dev queries match fewer DL20 passages)
  if [ ! -f runs/dl19-lr-list-distil-dev.run ] || [ ! -f runs/dl19-lr-point-distil-dev.run ]; then
    ./commands/dl20-dev-teacher.sh  # the teacher only for a run still to make
    [ -f "$teacher" ] || awk 'NR == FNR { n[$1]++; next } n[$1] >= 8' out/distil-dev/teacher.run \
      out/distil-dev/teacher.run > "$teacher"
  fi
  variant list-distil-dev language-ranker-list 1 --teacher-run "$teacher"
  variant point-distil-dev language-ranker-point 1 --teacher-run "$teacher"
  runs+=(runs/dl19-lr-list-distil-dev.run runs/dl19-lr-point-distil-dev.run)
fi
for other in runs/dl19-minilm-bi.run runs/dl19-minilm-ce-distil-dev-adamw-epoch-2.run; do
  [ -f "$other" ] && runs+=("$other")
done
echo "== DL19 BM25 top-100 reranked, trained on DL20"
llmrank eval "$DL/dl19/qrels.txt" "$DL/dl19/bm25-top100.run" "${runs[@]}" --baseline "$DL/dl19/bm25-top100.run" \
  -m nDCG@10 -m "RR(rel=2)@10" --format csv | tee runs/dl19-language-ranker.eval.csv
python commands/provenance.py runs/dl19-language-ranker.eval.csv
python - runs/dl19-language-ranker.eval.csv <<'EOF'
import csv, re, statistics, sys
by = {}
for row in csv.DictReader(open(sys.argv[1])):
    m = re.search(r"dl19-lr-(list|point)-s\d\.run$", row["run"])
    if m and row.get("qid") == "all" and row["measure"] == "nDCG@10":
        by.setdefault(m.group(1), []).append(float(row["value"]))
for kind, values in by.items():
    print(f"language-ranker-{kind}: nDCG@10 {statistics.mean(values):.4f} +- {statistics.stdev(values):.4f} "
          f"over {len(values)} seeds")
EOF
fi

prepare() {  # prepare SET [flags...]
  local set=$1; shift
  [ -f "$OUT/$set/data.json" ] || llmrank --quiet prepare items --topics "$L/$set/topics.tsv" --qrels "$L/$set/qrels.txt" \
    --responses "$L/$set/responses.jsonl" --folds 10 "$@" -o "$OUT/$set"
}
for set in $LLM_SETS; do
  flags=()
  if [ "$set" = arena-bench-v1 ]; then
    prepare "$set" --scores "$L/$set/scores.tsv"
    flags=(--labels graded)
  else
    prepare "$set"
  fi
  for kind in list point; do
    [ -f "$OUT/$set/cv/language-ranker-$kind.run" ] || llmrank --quiet cv "language-ranker-$kind" --lm "$LM" \
      --data "$OUT/$set" "${flags[@]}" -o "$OUT/$set/cv" > /dev/null
  done
  # the top answer's label (the seed's measure) of both rankers, the random pick, the prior and the
  # oracle in the eval CSV's shape (a run per column of the docs' table); each ranker vs the prior on stderr
  python - "$OUT/$set/cv" <<'EOF' | tee "runs/language-ranker-$set.report.csv"
import json, sys
reports = {kind: json.load(open(f"{sys.argv[1]}/language-ranker-{kind}.cv.json"))["report"] for kind in ("list", "point")}
print("run,qid,measure,value")
for kind, r in reports.items():
    print(f"{sys.argv[1]}/language-ranker-{kind}.run,all,top1,{r['top1_label']:.6g}")
for pick in ("random", "prior", "oracle"):
    print(f"{pick},all,top1,{reports['list'][pick + '_top1_label']:.6g}")
for kind, r in reports.items():
    print(f"language-ranker-{kind} - prior: {r['top1_minus_prior']:+.3f}, p = {r['top1_vs_prior_p']:.2g}", file=sys.stderr)
EOF
  python commands/provenance.py "runs/language-ranker-$set.report.csv"
  [[ " $LLM_SEED_SETS " == *" $set "* ]] || continue
  for seed in $SEEDS; do  # the same CV with other seeds (the folds stay the data directory's)
    for kind in list point; do
      [ -f "$OUT/$set/cv-seed$seed/language-ranker-$kind.run" ] || llmrank --quiet cv "language-ranker-$kind" \
        --lm "$LM" --data "$OUT/$set" "${flags[@]}" --seed "$seed" -o "$OUT/$set/cv-seed$seed" > /dev/null
    done
  done
  # the seeds' top-1 labels against the prior, in the eval CSV's shape (tests: the CV's paired t-test
  # against the prior, Holm over the seeds' runs) -> the seeds table of docs/experiments/language-ranker.md
  python - "$OUT/$set" $SEEDS <<'EOF' | tee "runs/language-ranker-$set.seeds.csv"
import json, sys
from llmrank_cli.evaluation.significance import correct
out, seeds = sys.argv[1], sys.argv[2:]
reports = {f"language-ranker-{kind}-seed{seed}": json.load(open(f"{out}/cv-seed{seed}/language-ranker-{kind}.cv.json"))
           ["report"] for kind in ("list", "point") for seed in seeds}
first = next(iter(reports.values()))
print("run,qid,measure,value")
print(f"prior,all,top1,{first['prior_top1_label']:.6g}")
for run, r in reports.items():
    print(f"{run},all,top1,{r['top1_label']:.6g}")
holm = dict(zip(reports, correct([r["top1_vs_prior_p"] for r in reports.values()], "holm")))
print("\nrun,measure,delta,p_value,wins,ties,losses,significant")
for run, r in reports.items():
    print(f"{run},top1,{r['top1_minus_prior']:.6g},{holm[run]:.4g},,,,{int(holm[run] < 0.05)}")
EOF
  python commands/provenance.py "runs/language-ranker-$set.seeds.csv"
done
