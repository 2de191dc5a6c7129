#!/usr/bin/env bash
# Tools of `npm run bench:features` only (never of `npm test` or `npm start`), built into
# .drivetrain/bin with the machine's Go toolchain; bench/features.ts runs this first.
#   scripts/bench-tools.sh [--vegeta]
# - features-load-go: the benchmark's load generator (bench/features-load-go, Go's standard
#   library only), keyed on its sources;
# - with --vegeta: vegeta (an established open-loop HTTP load tool, for `--vegeta`'s
#   cross-check) from the Go module proxy at a pinned version, keyed on it.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '\033[1m[bench-tools]\033[0m %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
go_tool=$(command -v go || echo /usr/local/go/bin/go)
if [ ! -x "$go_tool" ]; then
  # Debian's Go (1.19 on bookworm) builds the load generator; vegeta needs a newer one.
  log "apt: installing golang-go"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  go_tool=$(command -v go)
fi
mkdir -p .drivetrain/bin

loadgen_bin=.drivetrain/bin/features-load-go
loadgen_hash=$(hash_of bench/features-load-go/go.mod bench/features-load-go/main.go)
if [ "$(cat "$loadgen_bin.stamp" 2>/dev/null)" != "$loadgen_hash" ] || [ ! -x "$loadgen_bin" ]; then
  log "go: building $loadgen_bin"
  (cd bench/features-load-go && GOTOOLCHAIN=local "$go_tool" build -o "$ROOT/$loadgen_bin" .)
  echo "$loadgen_hash" >"$loadgen_bin.stamp"
fi

if [ "${1:-}" = --vegeta ]; then
  vegeta_module=github.com/tsenart/vegeta/v12@v12.13.0
  if [ "$(cat .drivetrain/bin/vegeta.stamp 2>/dev/null)" != "$vegeta_module" ] || [ ! -x .drivetrain/bin/vegeta ]; then
    log "go: installing $vegeta_module"
    if ! GOTOOLCHAIN=local GOBIN="$ROOT/.drivetrain/bin" "$go_tool" install "$vegeta_module"; then
      echo "bench-tools: could not build $vegeta_module with $("$go_tool" version); --vegeta needs a newer Go" >&2
      exit 1
    fi
    echo "$vegeta_module" >.drivetrain/bin/vegeta.stamp
  fi
fi
