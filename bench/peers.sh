#!/usr/bin/env bash
# trailhound next to its peers on the same CloudTrail tree, in one run:
#
#   1. `gzip -dc` of every file to /dev/null (one process): the cost of merely decompressing;
#   2. DuckDB (Python package `duckdb`): `read_json` over the `.json.gz` tree with ten
#      detection predicates written in SQL;
#   3. jq: the same ten predicates as one jq filter over the decompressed stream;
#   4. `trailhound hunt` with its default detection (built-in pack, metric filters, every
#      anomaly detector), then again with the SigmaHQ CloudTrail rules added (`--rules`) when
#      $SIGMA_DIR exists (default: ../shared/corpus/sigma/rules/cloud/aws/cloudtrail), with
#      SigmaHQ's "AWS STS AssumeRole Misuse" hunting rule switched off (it matches every
#      role session).
#
# The ten rules are built-in single-event rules; the script checks that the three engines
# agree on every rule's hit count and prints a table of wall time, events/s and the ratio to
# `gzip -dc`.
#
#   bench/peers.sh [WORK_DIR]                  generates >= 2M events into WORK_DIR/tree
#   EVENTS=500000 bench/peers.sh /tmp/peers    a smaller run
#   REUSE_TREE=1 bench/peers.sh /tmp/peers     keep an existing WORK_DIR/tree
#   TRAILHOUND_BIN=path                        time that binary instead of a fresh release build
#
# Needs: a release build (built here), python3 with duckdb (scripts/test-deps.sh), jq
# (apt-get install jq), GNU time for peak RSS (apt-get install time; optional).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-peers}
events=${EVENTS:-2000000}
sigma=${SIGMA_DIR:-$root/../shared/corpus/sigma/rules/cloud/aws/cloudtrail}
tree="$work/tree"
mkdir -p "$work"

command -v jq >/dev/null || { echo "peers: jq is missing (apt-get install jq)" >&2; exit 1; }
python3 -c 'import duckdb' 2>/dev/null ||
  { echo "peers: python duckdb is missing (scripts/test-deps.sh)" >&2; exit 1; }

if [ "${REUSE_TREE:-0}" = 1 ] && [ -d "$tree/AWSLogs" ]; then
  [ -n "${TRAILHOUND_BIN:-}" ] ||
    cargo build --release --quiet -p trailhound --manifest-path "$root/Cargo.toml"
else
  "$root/bench/gen_tree.sh" "$tree" "$events" >"$work/gen.txt"
fi
bin=${TRAILHOUND_BIN:-$root/target/release/trailhound}
logs="$tree/AWSLogs"
bytes=$(find "$logs" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$logs" -name '*.json.gz' | wc -l)

# The ten rules: id, then the predicate in SQL (over record e) and in jq (over a record).
# Sigma compares strings case-insensitively; the peers compare exactly, which is less work
# for them and gives the same counts on this data.
rules=(TH1001 TH1002 TH1005 TH1006 TH1009 TH1013 TH1035 TH1043 TH1062 TH1099)
sql_pred=(
  "e.eventSource = 'cloudtrail.amazonaws.com' AND e.eventName = 'StopLogging' AND e.errorCode IS NULL"
  "e.eventSource = 'cloudtrail.amazonaws.com' AND e.eventName = 'DeleteTrail' AND e.errorCode IS NULL"
  "e.eventSource = 'config.amazonaws.com' AND e.eventName IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel') AND e.errorCode IS NULL"
  "e.eventSource = 'ec2.amazonaws.com' AND e.eventName = 'DeleteFlowLogs' AND e.errorCode IS NULL"
  "e.eventSource = 'guardduty.amazonaws.com' AND e.eventName = 'DeleteDetector' AND e.errorCode IS NULL"
  "e.eventSource = 'organizations.amazonaws.com' AND e.eventName IN ('LeaveOrganization', 'RemoveAccountFromOrganization') AND e.errorCode IS NULL"
  "e.eventSource = 'signin.amazonaws.com' AND e.eventName = 'ConsoleLogin' AND e.userIdentity.type = 'Root' AND json_extract_string(e.responseElements, '\$.ConsoleLogin') = 'Success'"
  "e.eventSource = 'kms.amazonaws.com' AND e.eventName IN ('DisableKey', 'ScheduleKeyDeletion') AND e.errorCode IS NULL"
  "e.eventSource = 'iam.amazonaws.com' AND e.eventName = 'CreateAccessKey' AND e.errorCode IS NULL"
  "e.eventSource = 'ssm.amazonaws.com' AND e.eventName = 'SendCommand' AND e.errorCode IS NULL AND e.userIdentity.invokedBy IS NULL"
)
jq_pred=(
  '.eventSource == "cloudtrail.amazonaws.com" and .eventName == "StopLogging" and .errorCode == null'
  '.eventSource == "cloudtrail.amazonaws.com" and .eventName == "DeleteTrail" and .errorCode == null'
  '.eventSource == "config.amazonaws.com" and (.eventName | IN("StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel")) and .errorCode == null'
  '.eventSource == "ec2.amazonaws.com" and .eventName == "DeleteFlowLogs" and .errorCode == null'
  '.eventSource == "guardduty.amazonaws.com" and .eventName == "DeleteDetector" and .errorCode == null'
  '.eventSource == "organizations.amazonaws.com" and (.eventName | IN("LeaveOrganization", "RemoveAccountFromOrganization")) and .errorCode == null'
  '.eventSource == "signin.amazonaws.com" and .eventName == "ConsoleLogin" and .userIdentity.type == "Root" and .responseElements.ConsoleLogin? == "Success"'
  '.eventSource == "kms.amazonaws.com" and (.eventName | IN("DisableKey", "ScheduleKeyDeletion")) and .errorCode == null'
  '.eventSource == "iam.amazonaws.com" and .eventName == "CreateAccessKey" and .errorCode == null'
  '.eventSource == "ssm.amazonaws.com" and .eventName == "SendCommand" and .errorCode == null and .userIdentity.invokedBy == null'
)

# DuckDB: one scan, one count per rule. Only the columns the predicates read are declared.
sql="SELECT count(*) AS events"
for i in "${!rules[@]}"; do
  sql="$sql, count(*) FILTER (WHERE ${sql_pred[$i]}) AS \"${rules[$i]}\""
done
sql="$sql FROM (SELECT unnest(Records) AS e FROM read_json('$logs/**/*.json.gz', columns = {Records: 'STRUCT(eventSource VARCHAR, eventName VARCHAR, errorCode VARCHAR, userIdentity STRUCT(type VARCHAR, invokedBy VARCHAR), responseElements JSON)[]'}))"
cat >"$work/peer_duckdb.py" <<EOF
import duckdb, json, sys
con = duckdb.connect()
row = con.execute(sys.argv[1]).fetchone()
names = [d[0] for d in con.description]
json.dump(dict(zip(names, row)), open(sys.argv[2], "w"))
EOF

# jq: one pass; each matching record prints the ids of the rules it hits.
jqf='.Records[] | '
for i in "${!rules[@]}"; do
  [ "$i" -gt 0 ] && jqf="$jqf, "
  jqf="$jqf(if ${jq_pred[$i]} then \"${rules[$i]}\" else empty end)"
done

hunt_args=(hunt "$logs" --format jsonl --quiet)

results="$work/results.tsv"
: >"$results"
measure() { # name output-file command...
  local name=$1 out=$2; shift 2
  local log="$work/$name.time" start end rss="n/a"
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$log" "$@" >"$out"
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MB", $2/1024}' "$log")
  else
    "$@" >"$out"
  fi
  end=$(date +%s.%N)
  echo -e "$name\t$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", e - s}')\t$rss" >>"$results"
}

echo "tree: $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB compressed"
measure gzip-dc /dev/null sh -c "find '$logs' -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc"
measure trailhound "$work/hunt.jsonl" "$bin" "${hunt_args[@]}"
if [ -d "$sigma" ]; then
  # SigmaHQ's "AWS STS AssumeRole Misuse" (a low-level hunting rule) matches every
  # role-session event: it is switched off, as a deployment would (bench/e2e.sh does the same).
  printf 'version = 1\n[tuning]\ndisabled = ["905d389b-b853-46d0-9d3d-dea0d3a3cd49"]\n' >"$work/sigmahq.toml"
  measure trailhound+sigmahq "$work/hunt-sigma.jsonl" "$bin" "${hunt_args[@]}" --rules "$sigma" --config "$work/sigmahq.toml"
  echo "trailhound+sigmahq: $(wc -l <"$work/hunt-sigma.jsonl") alerts, $(du -m "$work/hunt-sigma.jsonl" | cut -f1) MB of JSON lines"
fi
measure duckdb /dev/null python3 "$work/peer_duckdb.py" "$sql" "$work/duckdb.json"
measure jq "$work/jq.txt" sh -c "find '$logs' -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc | jq -r '$jqf'"

python3 - "$work" "${rules[@]}" <<'EOF'
import collections, json, sys
work, rules = sys.argv[1], sys.argv[2:]
hunt = collections.Counter(json.loads(l)["rule"]["id"] for l in open(f"{work}/hunt.jsonl") if l.strip())
duck = json.load(open(f"{work}/duckdb.json"))
count = duck["events"]
print(f"events: {count}")
jq = collections.Counter(l.strip() for l in open(f"{work}/jq.txt") if l.strip())
print(f"{'rule':8} {'trailhound':>10} {'duckdb':>8} {'jq':>8}")
agree = True
for r in rules:
    h, d, j = hunt.get(r, 0), duck.get(r, 0), jq.get(r, 0)
    agree &= h == d == j
    print(f"{r:8} {h:>10} {d:>8} {j:>8}{'' if h == d == j else '   MISMATCH'}")
print(f"hit counts agree: {'yes' if agree else 'NO'} ({sum(hunt.values())} trailhound alerts in all)")
rows = [l.rstrip("\n").split("\t") for l in open(f"{work}/results.tsv")]
gzip_t = float(rows[0][1])
print()
print("| run (same tree, same run) | wall | events/s | vs gzip -dc | peak RSS |")
print("|---|---|---|---|---|")
for name, t, rss in rows:
    t = float(t)
    print(f"| {name} | {t:.2f} s | {count / t:,.0f} | {gzip_t / t:.2f}x | {rss} |")
times = {name: float(t) for name, t, _ in rows}
for ours in [n for n in times if n.startswith("trailhound")]:
    for peer in ("duckdb", "jq"):
        print(f"{ours} vs {peer}: {times[peer] / times[ours]:.1f}x")
sys.exit(0 if agree else 1)
EOF
