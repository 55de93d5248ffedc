#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: Python packages used by tests to make or
# read test data (tiny MaxMind DBs, DuckDB read-back of Parquet exports). Idempotent: a
# package already importable is not installed again.
set -euo pipefail
py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  echo "test-deps: $py not found: tests that need Python will fail" >&2
  exit 0
fi

# pip_need PACKAGE MODULE: install PACKAGE from PyPI unless MODULE imports.
pip_need() {
  if ! "$py" -c "import $2" >/dev/null 2>&1; then
    echo "test-deps: installing $1" >&2
    "$py" -m pip install --quiet --disable-pip-version-check "$1"
  fi
}

# One line per Python package the tests use.
pip_need mmdb-writer mmdb_writer
pip_need duckdb duckdb
# moto's local S3/SQS/SNS server for the live-ingestion and SNS delivery tests.
pip_need 'moto[server]' moto.server

# Headless Chromium and playwright-core for the web UI's browser tests
# (crates/trailhound-server/e2e/run.sh).
if [ ! -x /usr/bin/chromium ]; then
  echo "test-deps: installing chromium" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver
fi
if command -v npm >/dev/null 2>&1; then
  (cd "$(dirname "$0")/../crates/trailhound-server/e2e" && npm ci --no-audit --no-fund --silent)
else
  echo "test-deps: npm not found: the browser tests will fail" >&2
fi
