#!/usr/bin/env bash
# Real check for `llmrank train cross-encoder` (the seed thesis' Lion-vs-AdamW experiment, on
# CPU): fine-tune all-MiniLM-L6-v2 as a cross-encoder on TREC DL 2020 (judged passages of the
# BM25 top-100, hard negatives from that run), evaluate on DL 2019's BM25 top-100 after every
# epoch, once with AdamW and once with Lion. Writes models/ (not committed) and runs/, and
# prints the per-epoch table quoted in the README. About 35 minutes per optimizer on one core
# (OMP_NUM_THREADS=1 OPTIMIZERS=adamw and ...=lion side by side), resumable if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
DATA=${DATA:-../shared/data/trec-dl}
EPOCHS=${EPOCHS:-3}
OPTIMIZERS=${OPTIMIZERS:-adamw lion}  # e.g. OPTIMIZERS=lion to run one (two such jobs can share the machine)
declare -A LR=([adamw]=${LR_ADAMW:-1e-4} [lion]=${LR_LION:-1e-5})  # Lion wants a ~10x smaller lr
mkdir -p models runs
for opt in $OPTIMIZERS; do
  out="models/minilm-ce-$opt"
  resume=(); [ -d "$out/checkpoints" ] && resume=(--resume)  # rerunning continues an interrupted job
  [ -f "$out/llmrank.json" ] || llmrank train cross-encoder --base all-MiniLM-L6-v2 \
    --topics "$DATA/dl20/topics.tsv" --qrels "$DATA/dl20/qrels.txt" \
    --candidates "$DATA/dl20/bm25-top100.run" --corpus "$DATA/dl20/passages.jsonl" \
    --negatives hard --negatives-per-positive 2 --rel-level 2 \
    --optimizer "$opt" --lr "${LR[$opt]}" --warmup-steps 35 --scheduler linear --epochs "$EPOCHS" \
    --batch-size 16 --max-length 256 --grad-clip 1.0 --seed 0 \
    --eval-topics "$DATA/dl19/topics.tsv" --eval-qrels "$DATA/dl19/qrels.txt" \
    --eval-run "$DATA/dl19/bm25-top100.run" --eval-corpus "$DATA/dl19/passages.jsonl" "${resume[@]}" -o "$out"
  for f in "$out"/eval/epoch-*.run; do cp "$f" "runs/dl19-minilm-ce-$opt-$(basename "$f")"; done
  cp "$out/epochs.csv" "runs/dl19-minilm-ce-$opt.epochs.csv"
  cp "$out/curves.png" "runs/dl19-minilm-ce-$opt.curves.png"
done
echo "optimizer,epoch,train_loss,eval_loss,nDCG@10,AP(rel=2),R(rel=2)@10,Rprec(rel=2),P(rel=2)@10,RR(rel=2)@10"
for opt in $OPTIMIZERS; do
  tail -n +2 "runs/dl19-minilm-ce-$opt.epochs.csv" | cut -d, -f1,3- | sed "s/^/$opt,/"
done
