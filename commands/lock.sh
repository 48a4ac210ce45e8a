#!/usr/bin/env bash
# Write constraints.txt, the tested environment setup.sh installs against: the versions in $VENV
# (default .venv, as setup.sh and test.sh left it), torch excepted (setup.sh installs the build
# that fits the machine: a CPU wheel here, a CUDA one for GPU users). To move to newer versions:
#   LLMRANK_UNLOCKED=1 VENV=.venv-new ./commands/test.sh    # the newest pyproject allows, tested
#   VENV=.venv-new ./commands/lock.sh                       # then commit constraints.txt
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
{
  echo "# The tested environment (commands/lock.sh, $(date -u +%F), Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'), $(uname -m))."
  echo "# setup.sh installs against it; LLMRANK_UNLOCKED=1 ignores it. torch is not pinned here."
  "$VENV/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check \
    | grep -v -E '^(torch|triton|nvidia-[a-z0-9-]+)==' | grep -v '^-e ' | LC_ALL=C sort -f
} > constraints.txt.new
mv constraints.txt.new constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pinned distributions" >&2
