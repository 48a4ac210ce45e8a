#!/usr/bin/env bash
# Real check for `llmrank train cross-encoder` (the seed thesis' Lion-vs-AdamW experiment, on
# CPU): fine-tune all-MiniLM-L6-v2 as a cross-encoder on TREC DL 2020 and evaluate on DL 2019's
# BM25 top-100 after every epoch, once with AdamW and once with Lion, in two setups:
#   labels  the thesis' setup: judged passages of the DL20 BM25 top-100, hard negatives from it;
#   distil  the same model learns the untrained bi-encoder's scores on the DL20 top-100 (MSE;
#           the teacher run from commands/dl20-dev-teacher.sh);
#   distil-dev  as distil, plus the bi-encoder's scores for 800 MS MARCO dev queries (seeded
#           sample, no labels used) on their BM25 top-8 in the DL20 passages (the same
#           script): 11,769 pairs over 851 queries instead of 5,400 over 54; 2 epochs.
# Each setup and optimizer is trained with SEEDS (default 0 1 2); once every seed has run, their
# last epochs are evaluated against BM25 -> runs/dl19-NAME.seeds.eval.csv (the seeds' spread).
# Writes models/ (not committed), out/distil-dev/ and runs/, and prints the per-epoch table
# quoted in the README. About 35-50 minutes per setup, optimizer and seed on one core
# (OMP_NUM_THREADS=1 with OPTIMIZERS=adamw and ...=lion side by side; distil-dev about 100),
# resumable if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
DATA=${DATA:-../shared/data/trec-dl}
EPOCHS=${EPOCHS:-3}
OPTIMIZERS=${OPTIMIZERS:-adamw lion}  # e.g. OPTIMIZERS=lion to run one (two such jobs can share the machine)
SETUPS=${SETUPS:-labels distil distil-dev}
SEEDS=${SEEDS:-0 1 2}  # the seeds to train (SEEDS=1 trains seed 1 alone, e.g. one per job)
SEED_SPREAD=${SEED_SPREAD:-0 1 2}  # the seeds whose last epochs are compared, once all have run
declare -A LR=([adamw]=${LR_ADAMW:-1e-4} [lion]=${LR_LION:-1e-5})  # Lion wants a ~10x smaller lr
declare -A NAME=([labels]=minilm-ce [distil]=minilm-ce-distil [distil-dev]=minilm-ce-distil-dev)
declare -A SETUP_EPOCHS=([labels]=$EPOCHS [distil]=$EPOCHS [distil-dev]=${DEV_EPOCHS:-2})
declare -A WARMUP=([labels]=35 [distil]=35 [distil-dev]=75)  # about a tenth of an epoch
mkdir -p models runs
model_name() {  # model_name SETUP OPT SEED: seed 0 keeps the name its committed runs were made under
  echo "${NAME[$1]}-$2$([ "$3" = 0 ] || echo "-seed$3")"
}
TEACHER=runs/dl20-minilm-bi.run DEV=out/distil-dev  # made by commands/dl20-dev-teacher.sh
if [[ " $SETUPS " == *" distil-dev "* ]]; then ./commands/dl20-dev-teacher.sh
elif [[ " $SETUPS " == *" distil "* ]]; then ./commands/dl20-dev-teacher.sh --dl20-only; fi
for setup in $SETUPS; do
  topics=$DATA/dl20/topics.tsv
  case $setup in
    labels) data=(--qrels "$DATA/dl20/qrels.txt" --run "$DATA/dl20/bm25-top100.run"
                  --negatives hard --negatives-per-positive 2) ;;
    distil) data=(--teacher-run "$TEACHER" --teacher-depth 100) ;;
    distil-dev) data=(--teacher-run "$DEV/teacher.run" --teacher-depth 100); topics=$DEV/topics.tsv ;;
    *) echo "unknown setup $setup (labels, distil or distil-dev)" >&2; exit 2 ;;
  esac
  for opt in $OPTIMIZERS; do
    for seed in $SEEDS; do
      name=$(model_name "$setup" "$opt" "$seed")
      out="models/$name"
      resume=(); [ -d "$out/checkpoints" ] && resume=(--resume)  # rerunning continues an interrupted job
      [ -f "$out/model.json" ] || llmrank train cross-encoder --encoder all-MiniLM-L6-v2 \
        --topics "$topics" --corpus "$DATA/dl20/passages.jsonl" "${data[@]}" --rel-level 2 \
        --optimizer "$opt" --lr "${LR[$opt]}" --warmup-steps "${WARMUP[$setup]}" --scheduler linear \
        --epochs "${SETUP_EPOCHS[$setup]}" \
        --batch-size 16 --max-length 256 --grad-clip 1.0 --seed "$seed" \
        --eval-topics "$DATA/dl19/topics.tsv" --eval-qrels "$DATA/dl19/qrels.txt" \
        --eval-run "$DATA/dl19/bm25-top100.run" --eval-corpus "$DATA/dl19/passages.jsonl" "${resume[@]}" -o "$out"
      # seed 0 keeps every epoch's run and its curves (the page's table); other seeds their last run
      epochs=("$out"/eval/epoch-*.run); [ "$seed" = 0 ] || epochs=("$out/eval/epoch-${SETUP_EPOCHS[$setup]}.run")
      for f in "${epochs[@]}"; do cp "$f" "runs/dl19-$name-$(basename "$f")"; done
      cp "$out/epochs.csv" "runs/dl19-$name.epochs.csv"
      python commands/provenance.py "runs/dl19-$name.epochs.csv"
      [ "$seed" = 0 ] && cp "$out/curves.png" "runs/dl19-$name.curves.png"
    done
  done
  # every seed's last epoch against BM25, once all have run: the seeds' spread beside each gap
  last=() seeds=(); read -ra seeds <<< "$SEED_SPREAD"
  for opt in $OPTIMIZERS; do
    for seed in "${seeds[@]}"; do
      f="runs/dl19-$(model_name "$setup" "$opt" "$seed")-epoch-${SETUP_EPOCHS[$setup]}.run"
      copy="out/ce-seeds/${NAME[$setup]}/$opt-seed$seed.run"  # named as the seeds table reads it
      [ -f "$f" ] && mkdir -p "$(dirname "$copy")" && cp "$f" "$copy" && last+=("$copy")
    done
  done
  if [ "${#last[@]}" -gt 0 ] && [ "${#last[@]}" = $(( ${#seeds[@]} * $(wc -w <<< "$OPTIMIZERS") )) ]; then
    llmrank --quiet eval "$DATA/dl19/qrels.txt" "$DATA/dl19/bm25-top100.run" "${last[@]}" \
      --baseline "$DATA/dl19/bm25-top100.run" -m nDCG@10 -m "RR(rel=2)@10" -m "AP(rel=2)" --format csv \
      -o "runs/dl19-${NAME[$setup]}.seeds.eval.csv"
    python commands/provenance.py "runs/dl19-${NAME[$setup]}.seeds.eval.csv"
  fi
done
echo "setup,optimizer,epoch,train_loss,eval_loss,nDCG@10,AP(rel=2),R(rel=2)@10,Rprec(rel=2),P(rel=2)@10,RR(rel=2)@10"
for setup in $SETUPS; do
  for opt in $OPTIMIZERS; do
    tail -n +2 "runs/dl19-${NAME[$setup]}-$opt.epochs.csv" | cut -d, -f1,3- | sed "s/^/$setup,$opt,/"
  done
done
# distilled + dev, both optimizers trained: each against BM25 (AdamW beside the bi-encoder
# teacher, made by commands/dl19-rerank.sh), and Lion against AdamW (paired t-tests)
D=runs/dl19-minilm-ce-distil-dev
if [ -f "$D-adamw-epoch-2.run" ] && [ -f "$D-lion-epoch-2.run" ]; then
  M=(-m nDCG@10 -m "RR(rel=2)@10" -m "AP(rel=2)" -m "P(rel=2)@10")
  teacher=(); [ -f runs/dl19-minilm-bi.run ] && teacher=(runs/dl19-minilm-bi.run)
  llmrank --quiet eval "$DATA/dl19/qrels.txt" "$DATA/dl19/bm25-top100.run" "$D-adamw-epoch-2.run" "${teacher[@]}" \
    --baseline "$DATA/dl19/bm25-top100.run" "${M[@]}" --format csv -o "$D-adamw.vs-bm25.csv"
  llmrank --quiet eval "$DATA/dl19/qrels.txt" "$DATA/dl19/bm25-top100.run" "$D-lion-epoch-2.run" \
    --baseline "$DATA/dl19/bm25-top100.run" "${M[@]}" --format csv -o "$D-lion.vs-bm25.csv"
  llmrank --quiet eval "$DATA/dl19/qrels.txt" "$D-adamw-epoch-2.run" "$D-lion-epoch-2.run" \
    --baseline "$D-adamw-epoch-2.run" "${M[@]}" --format csv -o "$D.lion-vs-adamw.csv"
  python commands/provenance.py "$D-adamw.vs-bm25.csv" "$D-lion.vs-bm25.csv" "$D.lion-vs-adamw.csv"
fi
