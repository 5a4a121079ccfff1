#!/usr/bin/env bash
# Read benchmark: what a citizen and a reviewer read most, on the release build, against the
# limits measured in the same run (PostgreSQL's `pgbench -S`, the HTTP stack's `GET /healthz`).
#
# For each backend in BENCH_BACKENDS (default `postgres sqlite`), on a fresh database:
# - Through the API (scripts/bench_read.py setup): a reviewer of one department, 20 reviewers of
#   another, and the owner citizen with a draft of 10 photo pages (uploaded as the app does) and
#   49 more applications. Then in SQL (bench_read.py seed-sql), cloning the owner's draft:
#   10,000 citizens with 100,000 applications across every state, 5,000 of them waiting in the
#   reviewer's department and 2,000 in the other, and a booked pickup on one of the owner's.
# - PostgreSQL only: `pgbench -S` on a scratch database of the same cluster before the reads and
#   after them (the ratio uses the mean: the machine drifts within minutes). And the most
#   PostgreSQL itself gives for the application read and the queue: the statements one such
#   request sends, captured from the server's log (log_min_duration_statement = 0 for the
#   cluster for those two requests, then reset; ALTER SYSTEM and a reload), replayed by
#   `pgbench -M prepared` with the same clients after the reads.
# - wrk (BENCH_CONNECTIONS connections, BENCH_THREADS threads, BENCH_SECONDS each, --latency) on
#   each read with the reader's token: requests/s, p50, p99, and the service's CPU per request
#   (its /proc CPU time over the run, divided by the requests).
# - claim-next: 20 reviewers (wrk with scripts/bench_claims.lua: a thread and a connection each)
#   call it back to back until the 2,000 cases are claimed; every case must be claimed exactly
#   once. p50/p99 per call; calls/s from the first and last claim's audit records.
# - The service's RSS after all of it.
# The service runs the dev profile with logging at warn and its job worker on. Knobs:
# BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_BACKENDS, BENCH_PORT, BENCH_BIN (a
# binary built before), BENCH_CLAIM_SECONDS (how long wrk runs for claim-next: long enough for
# every case); BENCH_CITIZENS, BENCH_APPLICATIONS, BENCH_QUEUED, BENCH_CLAIMABLE size the
# data set. Other BEEBOX_* variables pass through to the service.
#
# Needs PostgreSQL at 127.0.0.1:5432 with trust auth for `postgres` (started when down), wrk and
# python3 with Pillow, jq (installed when missing: wrk, jq and sqlite3 with apt, Pillow with pip),
# sqlite3 for the SQLite run; PostgreSQL's log where Debian's cluster keeps it (pg_lsclusters).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-8}
threads=${BENCH_THREADS:-2}
backends=${BENCH_BACKENDS:-postgres sqlite}
port=${BENCH_PORT:-18083}
claim_seconds=${BENCH_CLAIM_SECONDS:-10}
base="http://127.0.0.1:$port"
db=beebox_bench_read
pg=(-h 127.0.0.1 -p 5432 -U postgres)
password='bench passphrase 1234'
py() { python3 scripts/bench_read.py "$@"; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
pg_isready "${pg[@]}" -q ||
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
pg_log=$(pg_lsclusters -h | awk '$3 == 5432 {print $7}')
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet --bin beebox

work=$(mktemp -d)
pid=
stop() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; pid=; }
cleanup() {
  stop
  log_statements -1 2>/dev/null || true
  dropdb "${pg[@]}" --if-exists "$db" 2>/dev/null || true
  dropdb "${pg[@]}" --if-exists "${db}_pgbench" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

select_tps() {
  pgbench "${pg[@]}" -S -c "$connections" -j "$threads" -T "$seconds" "${db}_pgbench" 2>/dev/null |
    awk '/^tps/ {print $3}'
}

# read NAME PATH [TOKEN [HEADER]]: one wrk run, one JSON line in reads.jsonl.
read_one() {
  local args=(-t"$threads" -c"$connections" -d"${seconds}s" --latency)
  [ -n "${3:-}" ] && args+=(-H "authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H "$4")
  local cpu0 cpu1
  cpu0=$(py cpu "$pid")
  wrk "${args[@]}" "$base$2" >"$work/wrk-$1.txt"
  cpu1=$(py cpu "$pid")
  python3 - "$1" "$2${4:+ ($4)}" "$work/wrk-$1.txt" "$cpu0" "$cpu1" >>"$work/reads.jsonl" <<'PY'
import json, re, sys
name, request, path, cpu0, cpu1 = sys.argv[1:]
text = open(path).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
pct = lambda p: re.search(rf"^\s+{p}%\s+(\S+)", text, re.M).group(1)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if bad:
    sys.exit(f"{request}: {bad.group(1)} answers were not 2xx/3xx")
print(json.dumps({"name": name, "request": request, "rps": rps, "p50": pct(50), "p99": pct(99),
                  "cpu_us": (float(cpu1) - float(cpu0)) / max(requests, 1) * 1e6}))
PY
}

serve() {
  "$bin" serve >>"$work/$backend/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done
  curl -fs "$base/readyz" >/dev/null || { tail -20 "$work/$backend/server.log"; exit 1; }
}

query() { # one SQL query on the run's database, its rows unaligned
  if [ "$backend" = postgres ]; then
    psql "${pg[@]}" -d "$db" -Atc "$1"
  else
    sqlite3 "$work/sqlite/beebox.db" "$1"
  fi
}

log_statements() { # log_min_duration_statement for the whole cluster: 0 every statement, -1 reset
  if [ "$1" = -1 ]; then
    psql "${pg[@]}" -qc "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
  else
    psql "${pg[@]}" -qc "ALTER SYSTEM SET log_min_duration_statement = $1" -c "SELECT pg_reload_conf()" >/dev/null
  fi
}

# capture NAME PATH TOKEN: one request, and the statements it sent (from PostgreSQL's log) as a
# pgbench script: the most PostgreSQL itself gives for that read, measured after the reads.
capture() {
  local start
  # The setup's thumbnails are made in the background; the capture waits for them to be done.
  for _ in $(seq 1 600); do
    [ "$(query "select count(*) from pages where thumbnail_key is null and thumbnail_attempts < 3")" = 0 ] && break
    sleep 0.1
  done
  sleep 0.5 # background statements already under way land before the mark
  start=$(wc -l <"$pg_log")
  curl -fs -o /dev/null -H "authorization: Bearer $3" "$base$2"
  sleep 0.5
  py statements "$pg_log" "$start" >"$work/statements-$1.sql"
  echo "$1: $(wc -l <"$work/statements-$1.sql") statements captured"
}

statements_tps() {
  pgbench "${pg[@]}" -n -M prepared -f "$work/statements-$1.sql" -c "$connections" \
    -j "$threads" -T "$seconds" "$db" 2>/dev/null | awk '/^tps/ {print $3}'
}

columns() { # table: its columns, as the database lists them
  if [ "$backend" = postgres ]; then
    psql "${pg[@]}" -d "$db" -Atc "select string_agg(column_name, ' ' order by ordinal_position)
      from information_schema.columns where table_name = '$1' and table_schema = 'public'"
  else
    sqlite3 "$work/sqlite/beebox.db" "select group_concat(name, ' ') from pragma_table_info('$1')"
  fi
}

run() {
  backend=$1
  : >"$work/reads.jsonl"
  mkdir -p "$work/$backend"
  export BEEBOX_DATA_DIR="$work/$backend" BEEBOX_SERVER__PORT="$port" BEEBOX_LOG__FILTER=warn
  # One address logs everyone in and files the owner's 50 applications.
  export BEEBOX_RATE_LIMITS__STAFF_LOGIN_PER_IP__PER_MINUTE=0
  export BEEBOX_RATE_LIMITS__APPLICATIONS_PER_CITIZEN__PER_MINUTE=0
  local claim_span="select extract(epoch from max(at) - min(at)) from audit_log where action = 'review.claim'"
  [ "$backend" = sqlite ] &&
    claim_span="select (julianday(max(at)) - julianday(min(at))) * 86400 from audit_log where action = 'review.claim'"
  if [ "$backend" = postgres ]; then
    dropdb "${pg[@]}" --if-exists "$db"
    createdb "${pg[@]}" "$db"
    export BEEBOX_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
  else
    export BEEBOX_DATABASE__URL="sqlite://$work/sqlite/beebox.db?mode=rwc"
  fi
  "$bin" migrate >/dev/null
  echo "$password" | "$bin" staff create-admin --username bench.admin >/dev/null
  serve
  py setup "$base" "$password" "$work/setup.json"
  local started=$SECONDS
  for table in citizens applications; do echo "$table $(columns $table)"; done |
    py seed-sql "$backend" "$work/setup.json" >"$work/seed.sql"
  if [ "$backend" = postgres ]; then
    psql "${pg[@]}" -d "$db" -v ON_ERROR_STOP=1 -q -f "$work/seed.sql" >/dev/null
  else
    sqlite3 "$work/sqlite/beebox.db" <"$work/seed.sql" >/dev/null
  fi
  echo "$backend: seeded in $((SECONDS - started)) s: $(
    query "select count(*) || ' applications, ' || (select count(*) from citizens) || ' citizens' from applications")"

  local tokens owner reviewer paged shipped
  tokens=$(cat "$work/setup.json")
  owner=$(jq -r .owner <<<"$tokens")
  reviewer=$(jq -r .reviewer <<<"$tokens")
  paged=$(jq -r .paged <<<"$tokens")
  shipped=$(jq -r .shipped <<<"$tokens")
  if [ "$backend" = postgres ]; then
    # The cluster logs every statement while the two requests are made (a reload reaches the
    # service's open connections too); the trap resets it if the run stops on the way.
    log_statements 0
    capture application "/v1/applications/$paged" "$owner"
    capture queue /v1/review/queue "$reviewer"
    log_statements -1
  fi
  local before=0
  [ "$backend" = postgres ] && before=$(select_tps)

  read_one healthz /healthz
  read_one matters /v1/matters
  local tag
  tag=$(curl -fsI "$base/v1/matters" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
  read_one matters-304 /v1/matters "" "if-none-match: $tag"
  read_one matter /v1/matters/real-estate-transfer-resale
  read_one application "/v1/applications/$paged" "$owner"
  read_one applications /v1/applications "$owner"
  read_one shipments "/v1/applications/$shipped/shipments" "$owner"
  read_one queue /v1/review/queue "$reviewer"
  # claim-next: 20 reviewers, one thread and connection each, until the queue is empty.
  jq -r '.claimers[]' "$work/setup.json" >"$work/claimers"
  CLAIMERS="$work/claimers" CLAIMED="$work/claimed" wrk -t20 -c20 -d"${claim_seconds}s" \
    -s scripts/bench_claims.lua "$base/v1/review/claim-next" | tail -1 >"$work/claims-wrk.json"
  py claims "$work" "$(query "$claim_span")" >"$work/claims.json"

  local after=0 application_statements=0 queue_statements=0
  if [ "$backend" = postgres ]; then
    after=$(select_tps)
    application_statements=$(statements_tps application)
    queue_statements=$(statements_tps queue)
  fi
  python3 -c "import json,sys; b,a,x,q=map(float,sys.argv[1:]); print(json.dumps({'select_before': b, 'select_after': a, 'select_mean': (b+a)/2 if b else None, 'statements': {'application': x, 'queue': q}}))" \
    "$before" "$after" "$application_statements" "$queue_statements" >"$work/limits.json"
  echo
  echo "### $backend"
  echo
  py summary "$work"
  echo
  python3 - "$work/claims.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
double = c["claims"] - c["distinct"]
print(f"claim-next, 20 reviewers: {c['claims']} cases claimed ({c['distinct']} distinct, "
      f"{double} claimed twice), {c['per_second']} calls/s, p50 {c['p50_ms']} ms, "
      f"p99 {c['p99_ms']} ms, max {c['max_ms']} ms; errors: {c['errors'] or 'none'}")
PY
  echo "service memory after the run: RSS $(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status) MiB" \
    "(peak $(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$pid/status) MiB)"
  stop
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$(psql "${pg[@]}" -Atc 'select version()' | cut -d' ' -f1-2);" \
  "wrk -t$threads -c$connections -d${seconds}s"
dropdb "${pg[@]}" --if-exists "${db}_pgbench"
createdb "${pg[@]}" "${db}_pgbench"
pgbench "${pg[@]}" -i -q "${db}_pgbench" >/dev/null 2>&1
mkdir -p "$work/sqlite"
for backend in $backends; do run "$backend"; done
