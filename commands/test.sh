#!/usr/bin/env bash
# Set up .venv and run the whole test suite (fails if pytest collects no tests: exit 5).
set -euo pipefail
cd "$(dirname "$0")/.."
./commands/setup.sh
exec .venv/bin/python -m pytest -q "$@"
