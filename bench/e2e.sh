#!/usr/bin/env bash
# End-to-end benchmark: generates a tree of at least 5 million events (or $EVENTS), then in
# the same run times `zcat` and `gzip -dc` (one process) of the whole tree to /dev/null and
# `trailhound hunt` with every detector family on (built-in pack, CIS metric filters, traps on
# the organisation's decoys, allow-policies learned from the tree, threat-intel lists, anomaly
# detection with GeoIP/ASN enrichment, and the SigmaHQ AWS rules when ../shared/corpus/sigma
# exists), on every core and held to one core (taskset), reporting events/s, MB/s (compressed
# and uncompressed) and peak RSS of each; then the same hunt writing the event store (--store).
#
#   bench/e2e.sh [WORK_DIR]          EVENTS=1000000 bench/e2e.sh  (a smaller validation run)
#   REUSE_TREE=1 bench/e2e.sh DIR    time again over the tree an earlier run left in DIR
#   TRAILHOUND_BIN=path              time that binary instead of a fresh release build
#
# Needs python3 with mmdb-writer (scripts/test-deps.sh) for the GeoIP/ASN database, and GNU
# time (/usr/bin/time, installed with apt-get when missing) for peak RSS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-e2e}
events=${EVENTS:-5000000}
if [ ! -x /usr/bin/time ]; then
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null 2>&1 || true
fi
tree="$work/tree"
mkdir -p "$work"
if [ "${REUSE_TREE:-0}" = 1 ] && [ -f "$work/gen.txt" ] && [ -d "$tree/AWSLogs" ]; then
  [ -n "${TRAILHOUND_BIN:-}" ] ||
    cargo build --release --quiet -p trailhound --manifest-path "$root/Cargo.toml"
else
  "$root/bench/gen_tree.sh" "$tree" "$events" | tee "$work/gen.txt"
fi
bin=${TRAILHOUND_BIN:-$root/target/release/trailhound}
count=$(sed -n 's/^wrote \([0-9]*\) events.*/\1/p' "$work/gen.txt")
raw_mb=$(sed -n 's/^wrote [0-9]* events (\([0-9.]*\) MB uncompressed).*/\1/p' "$work/gen.txt")
bytes=$(find "$tree/AWSLogs" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$tree/AWSLogs" -name '*.json.gz' | wc -l)
echo "tree: $count events, $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB compressed, $raw_mb MB uncompressed"

# A GeoIP/ASN database of the generator's networks (networks.json), for the anomaly family.
python3 - "$tree/networks.json" "$work/networks.mmdb" <<'PY'
import json, sys
from netaddr import IPSet
from mmdb_writer import MMDBWriter
db = MMDBWriter(ip_version=6, database_type='GeoIP2-Country', languages=['en'],
                description='trailhound generated networks', ipv4_compatible=True)
for n in json.load(open(sys.argv[1])):
    db.insert_network(IPSet([n['cidr']]), {'country': {'iso_code': n['country']},
        'autonomous_system_number': n['asn'], 'autonomous_system_organization': n['org']})
db.to_db_file(sys.argv[2])
PY
# SigmaHQ's "AWS STS AssumeRole Misuse" (a low-level hunting rule) matches every role-session
# event, which would turn the run into writing gigabytes of alerts; it is switched off as a
# deployment would.
cat >"$work/trailhound.toml" <<EOF
version = 1
[tuning]
disabled = ["905d389b-b853-46d0-9d3d-dea0d3a3cd49"]
[enrich]
mmdb = ["$work/networks.mmdb"]
[[traps.traps]]
name = "canary-user"
kind = "iam-user"
value = "svc-backup-legacy"
[[traps.traps]]
name = "canary-access-key"
kind = "access-key"
value = "AKIA5CANARYBACKUP012"
[[traps.traps]]
name = "honeypot-table"
kind = "dynamodb-table"
value = "customer-pii-export"
[[traps.traps]]
name = "honeypot-payroll-prefix"
kind = "s3-prefix"
value = "example-finance-archive/payroll/"
[intel]
[[intel.ip_lists]]
name = "hosting-ranges"
path = "$work/intel-ips.txt"
[[intel.user_agent_lists]]
name = "offensive-tools"
path = "$work/intel-agents.txt"
EOF
# Threat intel: the generator's hosting networks (where its attackers rent servers) and
# offensive-tool user agents.
python3 -c '
import json, sys
nets = json.load(open(sys.argv[1]))
print("# hosting ranges")
print("\n".join(n["cidr"] for n in nets if n["purpose"] == "hosting"))' "$tree/networks.json" >"$work/intel-ips.txt"
printf '# offensive tooling\nkali\npacu\nnmap\nsqlmap\n' >"$work/intel-agents.txt"
# Allow-policies as a deployment would start them: learned from a week of history on the busy
# data services (one policy per DynamoDB table, KMS key and secret).
"$bin" policy learn --days 7 --event-source dynamodb.amazonaws.com \
  --event-source kms.amazonaws.com --event-source secretsmanager.amazonaws.com \
  "$tree/AWSLogs" | grep -v '^#' >>"$work/trailhound.toml"
echo "policies: $(grep -c '^\[\[policies\]\]' "$work/trailhound.toml") learned"
rules=()
families="built-in pack, CIS metric filters, traps, policies, intel, anomaly with GeoIP/ASN"
sigma="$root/../shared/corpus/sigma"  # its rules/cloud/aws directory
if [ -d "$sigma" ]; then
  rules=(--rules "$sigma/rules/cloud/aws")
  families="$families, SigmaHQ AWS rules"
fi

measure() { # name command...   (output to $work/name.out; OUT=/dev/null to discard)
  local name=$1; shift
  local log="$work/$name.time"
  local out=${OUT:-$work/$name.out}
  local start end
  # Each run starts with the page cache's dirty pages written (the store before is megabytes
  # of them): their writeback otherwise lands, as system time, in whichever run comes next.
  sync
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$log" "$@" >"$out"
  else
    "$@" >"$out"
  fi
  end=$(date +%s.%N)
  local rss="n/a"
  if [ -f "$log" ]; then
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f MB", $2/1024}' "$log")
  fi
  awk -v n="$name" -v s="$start" -v e="$end" -v c="$count" -v b="$bytes" -v u="$raw_mb" -v r="$rss" 'BEGIN {
    t = e - s; printf "%-6s %8.2fs %10.0f events/s %7.1f MB/s compressed %7.1f MB/s uncompressed  peak RSS %s\n",
      n, t, c / t, b / 1e6 / t, u / t, r }'
}

echo "--- same tree, same run ($(nproc) cores) ---"
OUT=/dev/null measure zcat sh -c "find '$tree/AWSLogs' -name '*.json.gz' -print0 | sort -z | xargs -0 zcat"
OUT=/dev/null measure gzip sh -c "find '$tree/AWSLogs' -name '*.json.gz' -print0 | sort -z | xargs -0 cat | gzip -dc"
measure hunt "$bin" hunt "$tree/AWSLogs" --config "$work/trailhound.toml" "${rules[@]}" --format jsonl --quiet
echo "hunt: $(wc -l <"$work/hunt.out") alerts ($families)"
# Scaling: the same hunt held to one core.
if command -v taskset >/dev/null; then
  measure hunt1 taskset -c 0 "$bin" hunt "$tree/AWSLogs" --config "$work/trailhound.toml" "${rules[@]}" --format jsonl --quiet
  cmp -s "$work/hunt.out" "$work/hunt1.out" && echo "hunt1: same alerts as on every core"
fi
# The same hunt writing the event store (--store), from an empty store.
rm -rf "$work/store"
measure store "$bin" hunt "$tree/AWSLogs" --config "$work/trailhound.toml" "${rules[@]}" --format jsonl --quiet --store "$work/store"
cmp -s "$work/hunt.out" "$work/store.out" && echo "store: same alerts as without the store"
echo "store: $(du -sm "$work/store" | cut -f1) MB on disk"
