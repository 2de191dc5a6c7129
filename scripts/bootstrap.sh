#!/usr/bin/env bash
# Installs what Drivetrain needs on a fresh Debian machine with Node 20, Python 3.11 and
# Java 17: npm packages from the lockfile, the project virtualenv from PyPI, and Debian
# packages. Idempotent and quick when nothing changed (each step keys on a content hash).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

require_version() {
  local tool=$1 have=$2 want=$3
  if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
    echo "Drivetrain needs $tool >= $want (found $have)" >&2
    exit 1
  fi
}
require_version node "$(node --version | tr -d v)" 20.0.0
require_version python3 "$(python3 -c 'import platform; print(platform.python_version())')" 3.11.0

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_packages=()
command -v redis-server >/dev/null || apt_packages+=(redis-server)
command -v java >/dev/null || apt_packages+=(openjdk-17-jre-headless)
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_packages+=(python3-venv)
if [ ${#apt_packages[@]} -gt 0 ]; then
  log "apt: installing ${apt_packages[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

npm_stamp=node_modules/.drivetrain-stamp
npm_hash=$(hash_of package-lock.json)
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_hash" ]; then
  log "npm: installing from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_hash" >"$npm_stamp"
fi

venv_stamp=.venv/.drivetrain-stamp
venv_hash=$(hash_of spark/pyproject.toml spark/requirements.lock)
if [ "$(cat "$venv_stamp" 2>/dev/null)" != "$venv_hash" ]; then
  log "python: creating .venv (pyspark, cfn-lint, pytest, ruff; first run downloads ~400 MB)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -r spark/requirements.lock
  .venv/bin/pip install --quiet --no-deps -e "$ROOT/spark"
  echo "$venv_hash" >"$venv_stamp"
fi

# Iceberg runtime for local Spark: the version AWS Glue 5.1 ships (1.10.0), from Maven Central
# into .drivetrain/jars/ (drivetrain_spark.session loads it). Keyed on the jar's sha256.
iceberg_artifact=org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.0
iceberg_jar=.drivetrain/jars/iceberg-spark-runtime-3.5_2.12-1.10.0.jar
iceberg_sha256=70f9471870b2d456167d703c829f098a446b86bb1379eee338c0efa03a341026
if [ "$(sha256sum "$iceberg_jar" 2>/dev/null | cut -c1-64)" != "$iceberg_sha256" ]; then
  log "maven: fetching $iceberg_artifact"
  if ! command -v mvn >/dev/null; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends maven >/dev/null
  fi
  mkdir -p .drivetrain/jars
  mvn -q -B dependency:copy -Dartifact="$iceberg_artifact" -DoutputDirectory=.drivetrain/jars
  if [ "$(sha256sum "$iceberg_jar" | cut -c1-64)" != "$iceberg_sha256" ]; then
    echo "bootstrap: $iceberg_jar does not match its pinned sha256" >&2
    rm -f "$iceberg_jar"
    exit 1
  fi
fi
# Feature store: Feast from PyPI in a virtualenv of its own (.venv-feast), apart from the
# Spark toolchain: the compatibility test drives Feast's own client against Drivetrain's
# feature server, and bench:features measures Feast's own feature server beside it.
feast_stamp=.venv-feast/.drivetrain-stamp
feast_hash=$(hash_of features/feast/requirements.lock)
if [ "$(cat "$feast_stamp" 2>/dev/null)" != "$feast_hash" ]; then
  log "python: creating .venv-feast (Feast and its Redis online store, ~600 MB)"
  python3 -m venv .venv-feast
  .venv-feast/bin/pip install --quiet --upgrade pip
  .venv-feast/bin/pip install --quiet --no-deps -r features/feast/requirements.lock
  echo "$feast_hash" >"$feast_stamp"
fi
log "ready"
