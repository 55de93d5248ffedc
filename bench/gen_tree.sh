#!/usr/bin/env bash
# Generates a synthetic CloudTrail tree of about N events with a release build.
#
#   bench/gen_tree.sh OUT_DIR [EVENTS] [SEED]
#
# EVENTS defaults to 1,000,000. The tree is 10 accounts over enough days to hold EVENTS
# (20,000 benign events per account per weekday; weekends are quieter), every scenario on.
set -euo pipefail
out=${1:?usage: bench/gen_tree.sh OUT_DIR [EVENTS] [SEED]}
events=${2:-1000000}
seed=${3:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet -p trailhound --manifest-path "$root/Cargo.toml"
bin="$root/target/release/trailhound"
accounts=10
per_day=20000
days=$(( (events + accounts * per_day - 1) / (accounts * per_day) ))
# Weekends carry fewer events; add days until the estimate covers EVENTS.
days=$(( days + days / 3 + 1 ))
per_day=$(( events * 7 / (days * accounts * 6) + 1 ))
rm -rf "$out"
"$bin" gen --out "$out" --days "$days" --accounts "$accounts" --events-per-day "$per_day" --seed "$seed"
