#!/usr/bin/env bash
# Runs every test: installs test dependencies, then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
cargo test --workspace --all-targets
cargo test --workspace --doc
# Browser tests of the web UI, after the cargo tests (headless Chromium).
# `cargo test` built target/debug/trailhound for the CLI's integration tests; reuse it.
TRAILHOUND_BIN="$PWD/target/debug/trailhound" bash crates/trailhound-server/e2e/run.sh
