#!/usr/bin/env bash
# Throughput through the load balancer with 1, 2 and 3 instances (scripts/cluster.sh: HAProxy,
# PostgreSQL, s3s-fs and the SF simulator each in its own process, the release build), each
# against the limit measured in the same run:
#   - uploads: BENCH_CLIENTS (16) citizens send 1 MiB photos through the load balancer for
#     BENCH_SECONDS, then PUT the same bytes straight to the S3 server for as long
#     (scripts/bench_cluster.py);
#   - webhook ingest: wrk, 8 connections on 2 threads, posting distinct pre-signed SF route
#     pushes to the load balancer (scripts/bench_webhook.py and .lua), against pgbench's
#     tpcb-like transaction with the same clients on a scratch database of the same server;
#   - the time from SIGKILL of an instance to HAProxy no longer sending to it is in
#     scripts/drill-cluster.sh.
# Per-instance rate limits are off (one loopback client would measure the limiter). Logging at
# warn. BENCH_INSTANCES lists the cluster sizes ("1 2 3").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-20}
clients=${BENCH_CLIENTS:-16}
sizes=${BENCH_INSTANCES:-"1 2 3"}
port=${CLUSTER_PORT:-18080}
db=beebox_bench_cluster
pg=(-h 127.0.0.1 -p 5432 -U postgres)
secret=cluster-webhook-secret-0123456789
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet --bin beebox

work=$(mktemp -d)
cluster=
stop_cluster() {
  [ -n "$cluster" ] || return 0
  kill "$cluster" 2>/dev/null || true
  wait "$cluster" 2>/dev/null || true
  cluster=
}
cleanup() {
  stop_cluster
  dropdb "${pg[@]}" --if-exists "${db}_pgbench" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
dropdb "${pg[@]}" --if-exists "${db}_pgbench"
createdb "${pg[@]}" "${db}_pgbench"
pgbench "${pg[@]}" -i -q "${db}_pgbench" >/dev/null 2>&1

for n in $sizes; do
  mkdir -p "$work/$n"
  CLUSTER_DIR="$work/$n" CLUSTER_BIN="$bin" CLUSTER_INSTANCES="$n" CLUSTER_DB="$db" \
    CLUSTER_PORT="$port" BEEBOX_LOG__FILTER=warn \
    BEEBOX_RATE_LIMITS__WEBHOOK_PER_IP__PER_MINUTE=0 \
    BEEBOX_RATE_LIMITS__PAGE_UPLOADS_PER_CITIZEN__PER_MINUTE=0 \
    BEEBOX_RATE_LIMITS__UPLOAD_TICKETS_PER_CITIZEN__PER_MINUTE=0 \
    BEEBOX_RATE_LIMITS__APPLICATIONS_PER_CITIZEN__PER_MINUTE=0 \
    scripts/cluster.sh >"$work/$n/cluster.out" 2>&1 &
  cluster=$!
  for _ in $(seq 1 600); do
    grep -q "cluster up" "$work/$n/cluster.out" 2>/dev/null && break
    kill -0 "$cluster" 2>/dev/null || { cat "$work/$n/cluster.out" >&2; exit 1; }
    sleep 0.2
  done
  lb="http://127.0.0.1:$port"
  echo "== $n instance(s)"
  echo "uploads: $(python3 scripts/bench_cluster.py "$lb" "$seconds" "$clients")"

  shipments=$((seconds * 4000 / 5))
  BENCH_SF_WEBHOOK_SECRET=$secret python3 scripts/bench_webhook.py seed-sql 0 "$shipments" |
    psql "${pg[@]}" -d "$db" -v ON_ERROR_STOP=1 -qAt >/dev/null
  BENCH_SF_WEBHOOK_SECRET=$secret python3 scripts/bench_webhook.py bodies "$work/$n/bodies" 0 \
    "$shipments" >/dev/null
  wrk -t2 -c8 -d"${seconds}s" --latency -s scripts/bench_webhook.lua \
    "$lb/v1/webhooks/courier/sf?secret=$secret" -- "$work/$n/bodies" 2 >"$work/$n/wrk.txt"
  echo "webhook: $(awk '/Requests\/sec/ {print $2}' "$work/$n/wrk.txt") pushes/s," \
    "p99 $(awk '/ 99%/ {print $2}' "$work/$n/wrk.txt")," \
    "non-2xx $(awk '/Non-2xx/ {n = $5} END {print n + 0}' "$work/$n/wrk.txt")"
  pgbench "${pg[@]}" -c 8 -j 2 -T "$seconds" "${db}_pgbench" >"$work/$n/pgbench.txt" 2>/dev/null
  echo "pgbench tpcb-like, 8 clients: $(awk -F'= ' '/^tps/ {print int($2); exit}' "$work/$n/pgbench.txt") TPS"
  stop_cluster
done
