#!/usr/bin/env bash
# Every test: typecheck, lint, vitest (unit, CDK template, cdk-nag and cfn-lint), and the
# Spark package's ruff + pytest. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "typecheck (tsc)"
npx tsc --noEmit -p .
step "lint (biome)"
npx biome check .
step "lint (ruff)"
.venv/bin/ruff check spark
.venv/bin/ruff format --check spark
step "vitest"
export NODE_OPTIONS="${NODE_OPTIONS:-} --disable-warning=NodeVersionSupportWarning"
PATH="$PWD/.venv/bin:$PATH" npx vitest run
step "pytest (spark)"
(cd spark && ../.venv/bin/python -m pytest -q)
