#!/usr/bin/env bash
# End-to-end benchmark: generates a tree of at least 5 million events (or $EVENTS), then in
# the same run times `gzip -dc` of the whole tree to /dev/null and
# `trailhound hunt --format jsonl > /dev/null` with every detector on, reporting events/s,
# MB/s (compressed bytes read) and peak RSS.
#
#   bench/e2e.sh [WORK_DIR]          EVENTS=1000000 bench/e2e.sh  (a smaller validation run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-e2e}
events=${EVENTS:-5000000}
if [ ! -x /usr/bin/time ]; then
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null 2>&1 || true
fi
tree="$work/tree"
mkdir -p "$work"
"$root/bench/gen_tree.sh" "$tree" "$events" | tee "$work/gen.txt"
bin="$root/target/release/trailhound"
count=$(sed -n 's/^wrote \([0-9]*\) events.*/\1/p' "$work/gen.txt")
bytes=$(find "$tree/AWSLogs" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$tree/AWSLogs" -name '*.json.gz' | wc -l)
echo "tree: $count events, $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB compressed"

measure() { # name command...
  local name=$1; shift
  local log="$work/$name.time"
  local start end
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$log" "$@" >/dev/null
  else
    "$@" >/dev/null
  fi
  end=$(date +%s.%N)
  local rss="n/a"
  if [ -f "$log" ]; then
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f MB", $2/1024}' "$log")
  fi
  awk -v n="$name" -v s="$start" -v e="$end" -v c="$count" -v b="$bytes" -v r="$rss" 'BEGIN {
    t = e - s; printf "%-8s %8.2fs %12.0f events/s %8.1f MB/s  peak RSS %s\n", n, t, c / t, b / 1e6 / t, r }'
}

echo "--- same tree, same run ---"
measure gzip-dc sh -c "find '$tree/AWSLogs' -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc"
measure hunt "$bin" hunt "$tree/AWSLogs" --format jsonl --quiet
