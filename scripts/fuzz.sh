#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each, starting from the
# checked-in corpus in fuzz/corpus/<target>. New inputs go to a scratch directory, so the
# checked-in corpus is not changed; a crash stops the run with the failing input saved under
# fuzz/artifacts/<target>/ and a non-zero exit.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh 300 digest      # one target for five minutes
#
# Works on the pinned stable toolchain: cargo-fuzz needs nightly-only rustc flags
# (-Zsanitizer=address), which RUSTC_BOOTSTRAP=1 unlocks on stable.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-20}
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed (scripts/ci-tools.sh installs it)" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(cargo fuzz list)
fi

# One build of every target (release, with debug assertions and AddressSanitizer).
cargo fuzz build

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "artifacts/$target"
  echo "fuzz: $target for ${seconds}s" >&2
  # -timeout: one input running longer than 10 s is a hang; -rss_limit_mb: memory ceiling.
  if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="artifacts/$target/" 2>"$scratch/$target.log"; then
    echo "fuzz: $target FAILED; last lines of its log:" >&2
    tail -n 40 "$scratch/$target.log" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$scratch/$target.log" >&2 || true
  fi
done
exit "$status"
