#!/usr/bin/env bash
# Installs the cargo tools CI needs beyond the toolchain: cargo-deny (licences, advisories,
# sources) and cargo-fuzz (bounded fuzzing). Idempotent: an installed tool is kept. Both are
# built from crates.io with their locked dependencies.
#
# Measured on 2 shared cores: cargo-deny about 12 minutes, cargo-fuzz about 2 minutes.
set -euo pipefail

# need TOOL CRATE: install CRATE unless `cargo TOOL --version` works.
need() {
  if ! cargo "$1" --version >/dev/null 2>&1; then
    echo "ci-tools: installing $2" >&2
    # A quick-to-build profile: these tools' speed does not matter, CI's wall time does.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 \
      cargo install --locked "$2"
  fi
}

need deny cargo-deny
need fuzz cargo-fuzz
