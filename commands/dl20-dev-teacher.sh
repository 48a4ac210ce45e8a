#!/usr/bin/env bash
# The distillation teacher shared by commands/lion-vs-adamw.sh and commands/language-ranker.sh:
# the untrained MiniLM bi-encoder's scores on DL20's BM25 top 100 (runs/dl20-minilm-bi.run) and,
# in out/distil-dev/, on 800 MS MARCO dev-small queries (a seeded sample; their qrels unused)
# over their BM25 top 8 within the DL20 passages (the only passage texts here):
# out/distil-dev/teacher.run (both) and out/distil-dev/topics.tsv (851 queries). `--dl20-only`
# stops after the DL20 run. Steps whose output exists are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/llmrank ] || ./commands/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
DATA=${DATA:-../shared/data/trec-dl}
TEACHER=runs/dl20-minilm-bi.run
DEV=out/distil-dev
mkdir -p runs "$DEV"
[ -f "$TEACHER" ] || llmrank rerank --run "$DATA/dl20/bm25-top100.run" --topics "$DATA/dl20/topics.tsv" \
  --corpus "$DATA/dl20/passages.jsonl" --model all-MiniLM-L6-v2 --kind bi --depth 100 --tag minilm-bi -o "$TEACHER"
[ "${1-}" = --dl20-only ] || [ -f "$DEV/teacher.run" ] && exit 0
[ -d "$DEV/index" ] || llmrank --quiet prepare index "$DATA/dl20/passages.jsonl" -o "$DEV/index"
python3 -c "import random, sys; q = open(sys.argv[1]).read().splitlines(); random.Random(0).shuffle(q)
print('\n'.join(q[:800]))" "$DATA/../msmarco-passage-dev-small/topics.tsv" > "$DEV/dev800.tsv"
llmrank --quiet rank --model bm25 --index "$DEV/index" --topics "$DEV/dev800.tsv" --k 8 -o "$DEV/dev800-bm25.run"
llmrank --quiet rerank --run "$DEV/dev800-bm25.run" --topics "$DEV/dev800.tsv" --corpus "$DATA/dl20/passages.jsonl" \
  --model all-MiniLM-L6-v2 --kind bi --depth 8 --tag minilm-bi -o "$DEV/dev800-bi.run"
cat "$DATA/dl20/topics.tsv" "$DEV/dev800.tsv" > "$DEV/topics.tsv"
cat "$TEACHER" "$DEV/dev800-bi.run" > "$DEV/teacher.run.tmp" && mv "$DEV/teacher.run.tmp" "$DEV/teacher.run"
