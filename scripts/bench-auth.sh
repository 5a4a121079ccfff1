#!/usr/bin/env bash
# Authenticated read path benchmark: what checking an access token costs per request, before and
# after the session check (`auth::revocations`), against PostgreSQL's own limit in the same run.
#
# - For each build in BENCH_BINS (`name=path ...`; default: this checkout's release build as
#   `after`), on a fresh PostgreSQL database: a dev citizen and a reviewer log in, then wrk
#   reads `GET /v1/applications` (citizen: token check + one query) and
#   `GET /v1/review/queue/stats` (staff: token check + the staff row + one query) for
#   BENCH_SECONDS each, BENCH_CONNECTIONS connections on BENCH_THREADS threads, loopback only.
# - The limit: `pgbench -S` with the same clients and threads on a scratch database.
# - Builds alternate (before, after, before, after with BENCH_ROUNDS=2): the machine drifts.
#
# Needs PostgreSQL at 127.0.0.1:5432 with trust auth for `postgres`, wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-8}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-1}
port=${BENCH_PORT:-18082}
base="http://127.0.0.1:$port"
pg=(-h 127.0.0.1 -p 5432 -U postgres)
db=beebox_bench_auth
password='bench passphrase 1234'

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${BENCH_BINS:-}" ]; then
  cargo build --release --quiet --bin beebox
  BENCH_BINS="after=${CARGO_TARGET_DIR:-target}/release/beebox"
fi

work=$(mktemp -d)
pid=
stop() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; pid=; }
cleanup() {
  stop
  dropdb "${pg[@]}" --if-exists "$db" 2>/dev/null || true
  dropdb "${pg[@]}" --if-exists "${db}_pgbench" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -fsS -X POST "$base$1" -H 'content-type: application/json' "${@:3}" -d "$2"; }
rate() { # name path token
  wrk -t"$threads" -c"$connections" -d"${seconds}s" -H "authorization: Bearer $3" "$base$2" \
    >"$work/wrk.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '/Latency/ {print $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  echo "| $1 | \`GET $2\` | $rps | $p50 | ${non2xx:-0} |"
}

run() { # name binary
  dropdb "${pg[@]}" --if-exists "$db"
  createdb "${pg[@]}" "$db"
  export BEEBOX_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
  export BEEBOX_DATA_DIR="$work/$1" BEEBOX_SERVER__PORT="$port"
  mkdir -p "$work/$1"
  "$2" migrate >/dev/null 2>&1
  echo "$password" | "$2" staff create-admin --username bench.admin >/dev/null 2>&1
  "$2" serve --no-worker >"$work/$1/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done
  citizen=$(post /v1/auth/wechat '{"code":"dev:bench"}' | json "['access_token']")
  admin=$(post /v1/staff/login "{\"username\":\"bench.admin\",\"password\":\"$password\"}" |
    json "['access_token']")
  post /v1/admin/staff "{\"username\":\"bench.reviewer\",\"display_name\":\"Bench\",\"password\":\"$password\",\"roles\":[\"reviewer\"]}" \
    -H "authorization: Bearer $admin" >/dev/null
  staff=$(post /v1/staff/login "{\"username\":\"bench.reviewer\",\"password\":\"$password\"}" |
    json "['access_token']")
  rate "$1" /v1/applications "$citizen"
  rate "$1" /v1/review/queue/stats "$staff"
  stop
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$(psql "${pg[@]}" -Atc 'select version()' | cut -d' ' -f1-2);" \
  "wrk -t$threads -c$connections -d${seconds}s"
echo
echo "| build | request | requests/s | median latency | non-2xx |"
echo "|---|---|---|---|---|"
for _ in $(seq 1 "$rounds"); do
  for entry in $BENCH_BINS; do run "${entry%%=*}" "${entry#*=}"; done
done
dropdb "${pg[@]}" --if-exists "${db}_pgbench"
createdb "${pg[@]}" "${db}_pgbench"
pgbench "${pg[@]}" -i -q "${db}_pgbench" >/dev/null 2>&1
tps=$(pgbench "${pg[@]}" -S -c "$connections" -j "$threads" -T "$seconds" "${db}_pgbench" 2>/dev/null |
  awk '/^tps/ {print int($3)}')
echo "| PostgreSQL | \`pgbench -S -c $connections -j $threads\` | $tps | | |"
