#!/usr/bin/env bash
# `npm start`: installs what is missing, then brings Drivetrain up on this machine and runs
# its main job through every pillar built so far:
#   1. provisioning: synthesize every environment offline and summarise what each deploys;
#   2. scheduling: start the local platform (job API, dispatcher, process backend on
#      dynalite), submit the sample training job with the CLI and follow it to completion;
#   3. sensor ETL: ingest the sample drive from ../shared/data/sensor into Iceberg tables;
#   4. feature store: materialize the sample features and look one drive up.
# The platform then keeps serving on 127.0.0.1:${DRIVETRAIN_PORT:-8787} until Ctrl-C;
# pass --exit to stop after the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The AWS SDK warns about Node 20's end of support on every start; it is noise here.
export NODE_OPTIONS="${NODE_OPTIONS:-} --disable-warning=NodeVersionSupportWarning"
npx tsx bin/summary.ts
npx tsx local/main.ts "$@"
