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
