#!/usr/bin/env bash
# Live-path benchmark: `trailhound run` against a local moto server (S3 + SQS).
#
# 1. generates an organisation's CloudTrail with `trailhound gen` (EVENTS_PER_DAY × ACCOUNTS
#    events over one day);
# 2. starts moto on loopback, a bucket and a queue, and `trailhound run` polling the queue with
#    every default detector on and the store on;
# 3. uploads every object in the CloudTrail layout, then sends one S3 ObjectCreated
#    notification per object to the queue and waits until the daemon has detected every event
#    (`trailhound_events_total` on /metrics): throughput = events / (last event detected −
#    first notification), S3 GETs from moto included;
# 4. with the backlog drained, uploads one more object holding a StopLogging call and times
#    upload → its TH1001 alert on the daemon's stdout: the live path's lag, ten times.
#
#   bench/live.sh                            # 2 accounts × 50,000 events
#   EVENTS_PER_DAY=100000 bench/live.sh
#   TRAILHOUND_BIN=target/release/trailhound bench/live.sh
#
# Needs python3 with moto[server] (scripts/test-deps.sh installs it; boto3 comes with it).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${TRAILHOUND_BIN:-target/release/trailhound}
events_per_day=${EVENTS_PER_DAY:-50000}
accounts=${ACCOUNTS:-2}
out=${OUT:-$(mktemp -d)}
if [[ ! -x $bin ]]; then
  cargo build --release -p trailhound
fi
python3 -c 'import moto.server, boto3' || { echo "live: needs moto[server] (scripts/test-deps.sh)" >&2; exit 1; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
moto_port=$(port)
metrics_port=$(port)
endpoint="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "live: generating $accounts accounts × $events_per_day events into $out/tree" >&2
rm -rf "$out/tree" "$out/store" "$out/state"
"$bin" gen --out "$out/tree" --days 1 --accounts "$accounts" --events-per-day "$events_per_day" \
  --seed 11 --no-scenarios >/dev/null

python3 -m moto.server -H 127.0.0.1 -p "$moto_port" >"$out/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break
  sleep 0.1
done

queue_url=$(python3 - "$endpoint" <<'EOF'
import sys, boto3
ep = sys.argv[1]
boto3.client("s3", endpoint_url=ep).create_bucket(Bucket="trail-bucket")
print(boto3.client("sqs", endpoint_url=ep).create_queue(QueueName="trail-events")["QueueUrl"])
EOF
)

cat >"$out/config.toml" <<EOF
version = 1
[run]
listen = "127.0.0.1:$metrics_port"
checkpoint_interval_secs = 5
[run.aws]
region = "us-east-1"
endpoint_url = "$endpoint"
[[run.sqs]]
queue_url = "$queue_url"
wait_time_secs = 1
EOF

python3 - "$endpoint" "$queue_url" "$out" "$metrics_port" "$bin" "${pids[0]}" <<'EOF'
import atexit, gzip, json, os, subprocess, sys, time, urllib.request, boto3
ep, queue, out, mport, binary, moto_pid = sys.argv[1:7]

def cpu_secs(pid):
    """User + system CPU seconds of a live process, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
s3 = boto3.client("s3", endpoint_url=ep)
sqs = boto3.client("sqs", endpoint_url=ep)

def metric(name):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0

def notify(keys):
    for i in range(0, len(keys), 10):
        entries = [{"Id": str(j), "MessageBody": json.dumps({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "trail-bucket"}, "object": {"key": k, "size": 1}}}]})}
            for j, k in enumerate(keys[i:i + 10])]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)

tree = os.path.join(out, "tree")
objects, total = [], 0
for root, _, files in os.walk(tree):
    for f in sorted(files):
        if f.endswith(".json.gz") and "CloudTrail-Digest" not in root:
            path = os.path.join(root, f)
            total += len(json.loads(gzip.open(path).read())["Records"])
            objects.append((os.path.relpath(path, tree), path))
raw = sum(os.path.getsize(p) for _, p in objects)
# Upload and notify everything before the daemon starts: the drain then times the daemon (SQS
# receive, S3 GET from moto, decode, detection, store, delete), not how fast Python can put
# objects and messages into moto.
t = time.time()
for key, path in objects:
    s3.upload_file(path, "trail-bucket", key)
upload_secs = time.time() - t
t = time.time()
notify([k for k, _ in objects])
notify_secs = time.time() - t

moto_cpu = cpu_secs(moto_pid)
start = time.time()
daemon = subprocess.Popen(
    [binary, "run", "--config", os.path.join(out, "config.toml"), "--store", os.path.join(out, "store"),
     "--state-dir", os.path.join(out, "state")],
    stdout=open(os.path.join(out, "alerts.jsonl"), "w"), stderr=open(os.path.join(out, "run.log"), "w"))
atexit.register(daemon.kill)
while (metric("trailhound_events_total") or 0) < total:
    time.sleep(0.05)
done = time.time()
daemon_cpu = cpu_secs(daemon.pid)
moto_cpu = cpu_secs(moto_pid) - moto_cpu

# Lag: one StopLogging object at a time, upload -> its alert on stdout.
lags = []
alerts = os.path.join(out, "alerts.jsonl")
for n in range(10):
    event_id = f"live-bench-stop-{n}"
    record = {"eventVersion": "1.09", "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
              "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
              "eventID": event_id, "eventType": "AwsApiCall", "recipientAccountId": "123456789012",
              "requestParameters": {"name": "main"},
              "userIdentity": {"type": "IAMUser", "accountId": "123456789012",
                               "arn": f"arn:aws:iam::123456789012:user/bench{n}", "userName": f"bench{n}"}}
    key = f"AWSLogs/123456789012/CloudTrail/us-east-1/lag/123456789012_CloudTrail_us-east-1_{n}.json.gz"
    t0 = time.time()
    s3.put_object(Bucket="trail-bucket", Key=key, Body=gzip.compress(json.dumps({"Records": [record]}).encode()))
    notify([key])
    while event_id not in open(alerts).read():
        if time.time() - t0 > 60:
            sys.exit(f"live: no alert for {event_id} after 60 s")
        time.sleep(0.02)
    lags.append(time.time() - t0)
lags.sort()

secs = done - start
print(f"objects          {len(objects)}")
print(f"events           {total}")
print(f"compressed MB    {raw / 1e6:.1f}")
print(f"upload to moto   {upload_secs:.1f} s (before any notification)")
print(f"notifications    {len(objects)} queued in {notify_secs:.1f} s (before the daemon starts)")
print(f"drained          {secs:.1f} s from the daemon's start to the last event detected")
print(f"throughput       {total / secs:,.0f} events/s, {raw / 1e6 / secs:.1f} MB/s compressed")
print(f"CPU in the drain trailhound {daemon_cpu:.1f} s ({total / max(daemon_cpu, 0.01):,.0f} events per CPU-second), moto {moto_cpu:.1f} s")
print(f"upload -> alert  median {lags[len(lags) // 2] * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms (10 objects)")
EOF
