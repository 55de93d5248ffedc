#!/usr/bin/env bash
# A/B of trailhound builds on the tree an earlier bench/e2e.sh run left in WORK_DIR: runs the
# everything-on hunt (the e2e configuration and, when present, the SigmaHQ AWS rules) N times
# with each binary in turn, alternating so that the shared machine's drift hits both alike,
# and prints the median wall time and CPU (user + sys) of each.
#
#   bench/ab.sh WORK_DIR N BIN_A BIN_B [BIN_C…]     e.g. bench/ab.sh /tmp/e2e 5 /tmp/th-old target/release/trailhound
#   DEFAULTS=1 bench/ab.sh …                          the defaults hunt instead (no config, no SigmaHQ rules)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$1 n=$2
shift 2
sigma="$root/../shared/corpus/sigma/rules/cloud/aws"
args=(hunt "$work/tree/AWSLogs" --format jsonl --quiet)
if [ "${DEFAULTS:-0}" != 1 ]; then
  args+=(--config "$work/trailhound.toml")
  [ -d "$sigma" ] && args+=(--rules "$sigma")
fi
times=$(mktemp)
trap 'rm -f "$times"' EXIT
for _ in $(seq "$n"); do
  for bin in "$@"; do
    /usr/bin/time -f "$bin %e %U %S" -a -o "$times" "$bin" "${args[@]}" >/dev/null
  done
done
python3 - "$times" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for bin in sys.argv[2:]:
    mine = [r for r in rows if r[0] == bin]
    wall = statistics.median(float(r[1]) for r in mine)
    cpu = statistics.median(float(r[2]) + float(r[3]) for r in mine)
    print(f"{bin}: median wall {wall:.2f} s, median CPU {cpu:.2f} s over {len(mine)} runs")
PY
