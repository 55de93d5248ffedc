#!/usr/bin/env bash
# Runs every test: installs test dependencies, then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
cargo test --workspace --all-targets
cargo test --workspace --doc
