#!/usr/bin/env bash
# Real check for the attention rerankers (#18) with SmolLM2-135M (smollm2-135m, offline):
# 1) ICR zero-shot, all heads, on DL19's BM25 top-20 (one prompt per query) and top-100
#    (--merge tournament, 6 prompts per query; --merge slide, 9; window 40 tournament); 2) per-head scores of DL20's and DL19's top-20
#    (`prepare heads`), RouteHead and the static top-m baseline trained on one year and
#    evaluated on the other from the cached scores (all heads and the per-query oracle beside
#    them), and RouteHead end to end (`rerank --kind icr --router`) on DL19. Paired t-tests (Holm)
#    against BM25; the bi-encoder rerank from commands/dl19-rerank.sh is listed when present;
#    3) nDCG@10 of DL19's top 20 reordered by each layer's heads alone (from the cached scores);
#    4) RouteHead trained with each of SEEDS on one year, evaluated on the other against BM25
#    (runs/YEAR-routehead.seeds.eval.csv: the seeds' spread beside its loss).
# Work files in out/icr/ and out/heads/; runs in runs/. A step whose output exists is skipped;
# an interrupted rerank or prepare heads continues (--resume / its queries/ directory).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
DL=${DL:-../shared/data/trec-dl}
LM=${LM:-smollm2-135m}
TOP100=${TOP100:-1}  # 0 skips the three top-100 runs (25-60 min each on 2 cores)
SEEDS=${SEEDS:-0 1 2}  # RouteHead trained with each (seconds: it reads the cached head scores)
mkdir -p out/icr out/heads runs

icr() {  # icr OUT DEPTH [flags...]
  local out=$1 depth=$2; shift 2
  [ -f "$out" ] && return
  resume=(); [ -f "$out.partial" ] && resume=(--resume)
  /usr/bin/time -f "$(basename "$out"): %e s" llmrank --quiet rerank --kind icr --model "$LM" \
    --run "$DL/dl19/bm25-top100.run" --topics "$DL/dl19/topics.tsv" --corpus "$DL/dl19/passages.jsonl" \
    --depth "$depth" "$@" "${resume[@]}" -o "$out"
}

icr runs/dl19-icr-top20.run 20 --window 20 --tag icr-top20
if [ "$TOP100" = 1 ]; then  # top 100: tournament vs ICR's own sliding windows, window 20 vs 40
  icr runs/dl19-icr-top100.run 100 --window 20 --merge tournament --tag icr-top100-tournament
  icr runs/dl19-icr-top100-slide.run 100 --window 20 --merge slide --tag icr-top100-slide
  icr runs/dl19-icr-top100-w40.run 100 --window 40 --merge tournament --tag icr-top100-w40
fi

for year in dl20 dl19; do
  [ -f "out/heads/$year/heads.json" ] || /usr/bin/time -f "prepare heads $year: %e s" llmrank --quiet prepare heads \
    --model "$LM" --run "$DL/$year/bm25-top100.run" --topics "$DL/$year/topics.tsv" \
    --corpus "$DL/$year/passages.jsonl" --qrels "$DL/$year/qrels.txt" --window 20 -o "out/heads/$year"
done
echo "== DL19 top 20 reordered by one layer's heads (cached scores): nDCG@10 per layer"
python - out/heads/dl19 <<'EOF'
import sys
import numpy as np
from llmrank_cli.datasets.heads import load_heads
d = load_heads(sys.argv[1])
L, H = d.meta["layers"], d.meta["heads"]
ndcg = lambda s: np.mean([d.ndcg(q, s[q]) for q in range(len(d.qids))])  # noqa: E731
print(f"BM25 order {ndcg(np.zeros(d.scores.shape[:2])):.4f}, all heads {ndcg(d.scores.sum(axis=2)):.4f}")
per_layer = [ndcg(d.scores[:, :, l * H:(l + 1) * H].sum(axis=2)) for l in range(L)]
print(" ".join(f"L{l}:{v:.3f}" for l, v in enumerate(per_layer)))
print(f"best layer {int(np.argmax(per_layer))} ({max(per_layer):.4f}), worst {int(np.argmin(per_layer))} ({min(per_layer):.4f})")
EOF
for pair in "dl20 dl19" "dl19 dl20"; do
  set -- $pair
  for kind in routehead static; do
    flags=(); [ "$kind" = static ] && flags=(--static)
    [ -f "out/heads/models/$1-$kind/model.json" ] || llmrank train routehead --data "out/heads/$1" \
      --eval-data "out/heads/$2" "${flags[@]}" -o "out/heads/models/$1-$kind"
  done
done
[ -f runs/dl19-routehead.run ] || /usr/bin/time -f "dl19-routehead.run: %e s" llmrank --quiet rerank --kind icr \
  --model "$LM" --router out/heads/models/dl20-routehead --run "$DL/dl19/bm25-top100.run" \
  --topics "$DL/dl19/topics.tsv" --corpus "$DL/dl19/passages.jsonl" --depth 20 --window 20 --tag routehead \
  -o runs/dl19-routehead.run

for year in dl19 dl20; do
  other=$([ "$year" = dl19 ] && echo dl20 || echo dl19)
  e=out/heads/models/$other-routehead/eval
  runs=("$e/all-heads.run" "out/heads/models/$other-static/eval/routehead-static.run" "$e/routehead.run" "$e/oracle.run")
  [ "$year" = dl19 ] && runs=(runs/dl19-icr-top20.run runs/dl19-routehead.run "${runs[@]}")
  if [ "$year" = dl19 ]; then
    for r in runs/dl19-icr-top100.run runs/dl19-icr-top100-slide.run runs/dl19-icr-top100-w40.run; do
      [ -f "$r" ] && runs+=("$r")
    done
  fi
  [ -f "runs/$year-minilm-bi.run" ] && runs+=("runs/$year-minilm-bi.run")
  echo "== $year (heads trained on $other)"
  llmrank eval "$DL/$year/qrels.txt" "$DL/$year/bm25-top100.run" "${runs[@]}" --baseline "$DL/$year/bm25-top100.run" \
    -m nDCG@10 -m "RR(rel=2)@10" --format csv | tee "runs/$year-attention.eval.csv"
  python commands/provenance.py "runs/$year-attention.eval.csv"
done
echo "== RouteHead over seeds (SEEDS: $SEEDS), from the cached head scores, against BM25"
for pair in "dl20 dl19" "dl19 dl20"; do
  set -- $pair
  runs=("$DL/$2/bm25-top100.run")
  mkdir -p "out/heads/seeds/$2"
  for seed in $SEEDS; do
    model="out/heads/models/$1-routehead-seed$seed"
    [ -f "$model/model.json" ] || llmrank --quiet train routehead --data "out/heads/$1" --eval-data "out/heads/$2" \
      --seed "$seed" -o "$model"
    cp "$model/eval/routehead.run" "out/heads/seeds/$2/routehead-seed$seed.run"  # one name per seed for the table
    runs+=("out/heads/seeds/$2/routehead-seed$seed.run")
  done
  llmrank eval "$DL/$2/qrels.txt" "${runs[@]}" --baseline "$DL/$2/bm25-top100.run" -m nDCG@10 -m "RR(rel=2)@10" \
    --format csv | tee "runs/$2-routehead.seeds.eval.csv"
  python commands/provenance.py "runs/$2-routehead.seeds.eval.csv"
done
top100=(runs/dl19-icr-top100-slide.run runs/dl19-icr-top100-w40.run)
if [ -f "${top100[0]}" ] && [ -f "${top100[1]}" ]; then
  echo "== DL19 top 100, ICR all heads: merge and window against tournament of windows of 20"
  llmrank eval "$DL/dl19/qrels.txt" runs/dl19-icr-top100.run "${top100[@]}" --baseline runs/dl19-icr-top100.run \
    -m nDCG@10 -m "RR(rel=2)@10" --format csv | tee runs/dl19-icr-top100.eval.csv
  python commands/provenance.py runs/dl19-icr-top100.eval.csv
fi
