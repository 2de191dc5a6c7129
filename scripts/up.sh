#!/usr/bin/env bash
# Brings Drivetrain up on this machine and runs its main job. Today that is the
# provisioning pillar: synthesize every environment offline and summarise what each deploys.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npx tsx bin/summary.ts "$@"
