#!/usr/bin/env bash
# Outage drills on a whole cluster (scripts/cluster.sh: three instances behind HAProxy on
# PostgreSQL, s3s-fs and the SF simulator each in its own process), driven by
# scripts/drill_cluster.py:
#   1. SIGKILL of an instance under load: time until HAProxy stops sending to it, what clients
#      saw, and its restart back into the rotation;
#   2. the S3 server down for DRILL_STORE_DOWN_SECS (30) while citizens upload: the uploads'
#      answers, /readyz on every instance, reads meanwhile, and the time to recover;
#   3. PostgreSQL restarted while citizens read: how fast failures fail, the time to the first
#      success, and that no instance had to be restarted.
# Then every page row must have its object and every object its row. Prints a JSON report.
#
# It restarts the machine's PostgreSQL cluster: run it when nothing else uses it.
# DRILL_BIN names a beebox binary (default: the release build, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
bin=${DRILL_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
[ -n "${DRILL_BIN:-}" ] || cargo build --release --quiet --bin beebox
dir=$(mktemp -d)
port=${CLUSTER_PORT:-18080}
s3_port=${CLUSTER_S3_PORT:-19000}
db=beebox_drill
export CLUSTER_DIR=$dir CLUSTER_BIN=$bin CLUSTER_PORT=$port CLUSTER_S3_PORT=$s3_port \
  CLUSTER_DB=$db CLUSTER_INSTANCES=3
scripts/cluster.sh >"$dir/cluster.out" 2>&1 &
cluster=$!
cleanup() {
  kill "$cluster" 2>/dev/null || true
  wait "$cluster" 2>/dev/null || true
  # What the drill started again, should the cluster's own clean-up have missed it.
  for f in "$dir"/instance-*.pid "$dir/s3.pid"; do
    [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }
  done
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "cluster up" "$dir/cluster.out" 2>/dev/null && break
  kill -0 "$cluster" 2>/dev/null || { cat "$dir/cluster.out" >&2; exit 1; }
  sleep 0.2
done
cat "$dir/cluster.out"
DRILL_DB=$db DRILL_BUCKET_DIR="$dir/s3/beebox-cluster" python3 scripts/drill_cluster.py \
  "http://127.0.0.1:$port" "$dir" 3 "$s3_port" "$(ls /etc/postgresql)"
