#!/usr/bin/env bash
# Set up .venv and run the whole test suite (fails if pytest collects no tests: exit 5). The ten
# slowest tests are listed at the end: the suite is kept under ~15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
./commands/setup.sh
# llama.cpp's OpenAI-compatible server, for the served-LLM tests (tests/test_served_llm.py): built
# from source once (a few minutes on 2 cores), then pip's cache holds the wheel.
VENV=${VENV:-.venv}
LOCK=()
[ "$(cat "$VENV/llmrank-lock")" = unlocked ] || LOCK=(-c constraints.txt)
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} "$VENV/bin/python" -m pip install -q \
  --disable-pip-version-check "${LOCK[@]}" "llama-cpp-python[server]==0.3.36"
# Debian's Chromium and its driver, for the report's browser tests (tests/test_report_browser.py).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=()
  [ "$(id -u)" = 0 ] || SUDO=(sudo)
  "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
fi
exec "$VENV/bin/python" -m pytest -q --durations=10 "$@"
