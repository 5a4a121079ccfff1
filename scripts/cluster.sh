#!/usr/bin/env bash
# A whole Beebox cluster on this machine, every part in its own process:
#
# - PostgreSQL (the machine's cluster at 127.0.0.1:5432, started when down), a fresh database
#   `beebox_cluster` (CLUSTER_DB); or, with CLUSTER_DATABASE_URL, that existing database as it is
#   (nothing started, created or dropped);
# - an S3 server: `s3s-fs` built with its `binary` feature (installed with `cargo install` when
#   missing, pinned like the test dependency), on CLUSTER_S3_PORT (19000), keeping its files
#   under $CLUSTER_DIR/s3 (the bucket is the directory `beebox-cluster`);
# - the SF Express simulator (`beebox courier-sim`) on CLUSTER_SF_PORT (19090), moving a parcel a
#   step every CLUSTER_SF_STEP_MS (3000) and pushing route events to the load balancer;
# - CLUSTER_INSTANCES (3) instances of `beebox serve` on CLUSTER_PORT + 1, + 2, ... sharing the
#   database, the bucket and one set of keys;
# - HAProxy in front on CLUSTER_PORT (18080), health-checking every instance's `/readyz` twice
#   a second (down after two failures, up after two passes), sending to the live ones
#   (`/healthz`) when none is ready, and answering its own errors as problem+json.
#
# It prints where each part listens, then one line `ready lb=URL dir=DIR` (for scripts and the
# cluster test, tests/api/cluster/), then waits; Ctrl-C or SIGTERM stops everything it started.
# SIGUSR1 starts again, with the same environment, every instance that is no longer running
# (say after `kill -9 $(cat $CLUSTER_DIR/instance-2.pid)`), printing `restarted instance N`.
# CLUSTER_BIN names a beebox binary built before (default: the release build, built when
# missing); CLUSTER_DIR keeps the logs and data (default: a temporary directory, removed).
# Each instance's pid is in $CLUSTER_DIR/instance-N.pid, its log in instance-N.log, the S3
# server's in s3.pid (a drill that restarts one writes the new pid there); the instances run the
# dev profile (simulated WeChat, mail to .eml files under instance-N/mail) with logging at info.
# Other BEEBOX_* variables set by the caller reach every instance.
set -euo pipefail
cd "$(dirname "$0")/.."

instances=${CLUSTER_INSTANCES:-3}
lb_port=${CLUSTER_PORT:-18080}
s3_port=${CLUSTER_S3_PORT:-19000}
sf_port=${CLUSTER_SF_PORT:-19090}
db=${CLUSTER_DB:-beebox_cluster}
database_url=${CLUSTER_DATABASE_URL:-}
sf_step_ms=${CLUSTER_SF_STEP_MS:-3000}
pg=(-h 127.0.0.1 -p 5432 -U postgres)
bucket=beebox-cluster
access_key=cluster-access-key
secret_key=cluster-secret-key-0123456789
webhook_secret=cluster-webhook-secret-0123456789

command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; }
command -v s3s-fs >/dev/null ||
  cargo install s3s-fs --version 0.14.1 --locked --features binary --quiet
if [ -z "$database_url" ]; then
  pg_isready "${pg[@]}" -q ||
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready "${pg[@]}" -q && break; sleep 1; done
fi
bin=${CLUSTER_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
[ -n "${CLUSTER_BIN:-}" ] || cargo build --release --quiet --bin beebox

dir=${CLUSTER_DIR:-}
keep_dir=1
[ -n "$dir" ] || { dir=$(mktemp -d); keep_dir=0; }
mkdir -p "$dir"
pids=()
cleanup() {
  trap - EXIT INT TERM USR1
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for f in "$dir"/instance-*.pid "$dir/s3.pid"; do
    [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }
  done
  # Whatever else still runs in the background (the waiting `sleep`), so that `wait` returns.
  # shellcheck disable=SC2046
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  [ "$keep_dir" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # URL [tries]: until it answers 2xx
  for _ in $(seq 1 "${2:-300}"); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2
  return 1
}

if [ -z "$database_url" ]; then
  dropdb "${pg[@]}" --if-exists --force "$db"
  createdb "${pg[@]}" "$db"
  database_url="postgres://postgres@127.0.0.1:5432/$db"
fi
export BEEBOX_DATABASE__URL="$database_url"

# The object store in its own process.
mkdir -p "$dir/s3/$bucket"
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$access_key" --secret-key "$secret_key" \
  "$dir/s3" >"$dir/s3.log" 2>&1 &
echo $! >"$dir/s3.pid"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done

# One set of keys for every instance: a token or a link one signs, the others accept.
openssl genpkey -algorithm ed25519 -out "$dir/jwt.pem" 2>/dev/null
export BEEBOX_KEYS__JWT_PRIVATE_KEY
BEEBOX_KEYS__JWT_PRIVATE_KEY=$(cat "$dir/jwt.pem")
export BEEBOX_KEYS__URL_SIGNING_KEY BEEBOX_KEYS__DATA_ENCRYPTION_KEY
BEEBOX_KEYS__URL_SIGNING_KEY=$(openssl rand -hex 32)
BEEBOX_KEYS__DATA_ENCRYPTION_KEY=$(openssl rand -hex 32)
export BEEBOX_STORAGE__BACKEND=s3 BEEBOX_STORAGE__S3__ENDPOINT="http://127.0.0.1:$s3_port" \
  BEEBOX_STORAGE__S3__BUCKET="$bucket" BEEBOX_STORAGE__S3__PATH_STYLE=true \
  BEEBOX_STORAGE__S3__ACCESS_KEY_ID="$access_key" \
  BEEBOX_STORAGE__S3__SECRET_ACCESS_KEY="$secret_key"
export BEEBOX_SERVER__PUBLIC_URL="http://127.0.0.1:$lb_port" BEEBOX_SERVER__TRUST_FORWARDED_FOR=true
export BEEBOX_COURIER__SF__API_BASE="http://127.0.0.1:$sf_port/std/service"
export BEEBOX_COURIER__SF__WEBHOOK_SECRET="$webhook_secret"
export BEEBOX_LOG__FILTER=${BEEBOX_LOG__FILTER:-info,sqlx=warn,sea_orm=warn,aws=warn}

# The courier's simulator pushes to the load balancer, as SF pushes to the public address.
"$bin" courier-sim --port "$sf_port" --step-ms "$sf_step_ms" \
  --push-url "http://127.0.0.1:$lb_port/v1/webhooks/courier/sf?secret=$webhook_secret" \
  >"$dir/courier-sim.log" 2>&1 &
pids+=($!)

"$bin" migrate >"$dir/migrate.log" 2>&1

# start_instance N: `beebox serve` on port lb_port + N; its pid in instance-N.pid.
start_instance() {
  local n=$1 port=$((lb_port + $1))
  mkdir -p "$dir/instance-$n"
  BEEBOX_DATA_DIR="$dir/instance-$n" BEEBOX_SERVER__PORT="$port" \
    "$bin" serve >>"$dir/instance-$n.log" 2>&1 &
  echo $! >"$dir/instance-$n.pid"
  wait_for "http://127.0.0.1:$port/readyz"
}
# The first alone: it seeds the empty catalogue; the others find it there.
for n in $(seq 1 "$instances"); do start_instance "$n"; done

# running PID: the process is there and not a zombie waiting to be reaped.
running() {
  kill -0 "$1" 2>/dev/null && ! grep -qs '^[0-9]* (.*) Z' "/proc/$1/stat"
}
# SIGUSR1: every instance that stopped (killed, crashed, stopped by SIGTERM) starts again.
restart_stopped() {
  for n in $(seq 1 "$instances"); do
    running "$(cat "$dir/instance-$n.pid")" && continue
    if start_instance "$n"; then
      echo "restarted instance $n  pid $(cat "$dir/instance-$n.pid")"
    else
      echo "instance $n did not come back; see $dir/instance-$n.log" >&2
    fi
  done
}

# HAProxy's own errors in the service's format.
for status in 502 503 504; do
  printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 5\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{"type":"urn:beebox:problem:service_unavailable","title":"Service Unavailable","status":503,"code":"service_unavailable","detail":"No instance can answer just now; retry shortly."}\n' \
    >"$dir/haproxy-$status.http"
done
{
  cat <<EOF
global
    maxconn 4096
    log stderr format raw local0 warning
    stats socket $dir/haproxy.sock mode 600 level admin

defaults
    mode http
    log global
    option forwardfor
    option redispatch
    retries 2
    retry-on conn-failure empty-response
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 75s
    errorfile 502 $dir/haproxy-502.http
    errorfile 503 $dir/haproxy-503.http
    errorfile 504 $dir/haproxy-504.http

frontend beebox
    bind 127.0.0.1:$lb_port
    # Fail open when no instance is ready: the cause is shared (database or store down).
    use_backend live if { nbsrv(instances) eq 0 }
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /readyz
    http-request disable-l7-retry unless METH_GET
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2
EOF
  for n in $(seq 1 "$instances"); do
    echo "    server instance-$n 127.0.0.1:$((lb_port + n))"
  done
  printf '\nbackend live\n    balance roundrobin\n    option httpchk GET /healthz\n'
  printf '    http-request disable-l7-retry unless METH_GET\n'
  printf '    http-check expect status 200\n    default-server check inter 500ms fall 2 rise 2\n'
  for n in $(seq 1 "$instances"); do
    echo "    server instance-$n 127.0.0.1:$((lb_port + n))"
  done
} >"$dir/haproxy.cfg"
haproxy -W -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$lb_port/readyz"

echo "cluster up (logs and data in $dir):"
echo "  load balancer  http://127.0.0.1:$lb_port  (HAProxy, checks /readyz every 500 ms)"
for n in $(seq 1 "$instances"); do
  echo "  instance $n     http://127.0.0.1:$((lb_port + n))  pid $(cat "$dir/instance-$n.pid")"
done
echo "  PostgreSQL     ${database_url##*@}"
echo "  S3 (s3s-fs)    http://127.0.0.1:$s3_port  bucket $bucket"
echo "  SF simulator   http://127.0.0.1:$sf_port/std/service, pushing to the load balancer"
trap restart_stopped USR1
echo "Ctrl-C stops everything; SIGUSR1 (kill -USR1 $$) restarts stopped instances."
echo "ready lb=http://127.0.0.1:$lb_port dir=$dir"
while true; do sleep 3600 & wait $! || true; done
