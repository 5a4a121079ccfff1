#!/usr/bin/env bash
# Statistics routes on a big PostgreSQL database: how long each `/v1/stats/*` call takes over a
# year of 1,000,000 applications, against the floor of the same machine in the same run.
#
# - Seeds a fresh database (BENCH_APPS applications, default 1,000,000) in SQL, not through the
#   API: 20 items of 3 materials in 6 departments, 1,000 citizens, each case's events and
#   pre-review decisions (a fifth returned once, some rejected or refused) spread over the
#   last 365 days, the recent ones still on their way (in pre-review, with the courier, at the
#   department), and the live originals legs. Then `beebox stats rebuild` builds the rollups.
# - Starts BENCH_BIN (default target/release/beebox) on it and sends BENCH_REQUESTS (200)
#   sequential requests per route with one curl (one kept-alive connection), as an admin of every
#   department and as a reviewer of one, for the default 30 days and for a whole year;
#   reports the median and p99 of curl's `time_total`.
# - The floor, in the same run: `GET /healthz` the same way, `pgbench -c1 -S` and a
#   `select 1` round trip (`pgbench -c1 -f`).
#
# Needs PostgreSQL at 127.0.0.1:5432 with trust auth for `postgres`, curl, pgbench and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

apps=${BENCH_APPS:-1000000}
requests=${BENCH_REQUESTS:-200}
port=${BENCH_PORT:-18483}
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
keep=${BENCH_KEEP_DB:-0}
base="http://127.0.0.1:$port"
pg=(-h 127.0.0.1 -p 5432 -U postgres)
db=beebox_bench_stats
password='bench passphrase 1234'

[ -x "$bin" ] || { echo "no binary at $bin (set BENCH_BIN or build --release)" >&2; exit 1; }
work=$(mktemp -d)
pid=
stop() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; pid=; }
cleanup() {
  stop
  [ "$keep" = 1 ] || dropdb "${pg[@]}" --if-exists "$db" 2>/dev/null || true
  dropdb "${pg[@]}" --if-exists "${db}_pgbench" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -fsS -X POST "$base$1" -H 'content-type: application/json' "${@:3}" -d "$2"; }
secs() { python3 -c "import time; print(f'{time.time() - $1:.1f}')"; }

dropdb "${pg[@]}" --if-exists "$db"
createdb "${pg[@]}" "$db"
export BEEBOX_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
export BEEBOX_DATA_DIR="$work/data" BEEBOX_SERVER__PORT="$port" BEEBOX_LOG__FILTER=warn
export BEEBOX_CATALOG__SEED_ON_EMPTY=false
mkdir -p "$work/data"
"$bin" migrate >/dev/null

started=$(date +%s.%N)
psql "${pg[@]}" -q -d "$db" -v ON_ERROR_STOP=1 -v apps="$apps" <<'SQL'
SET synchronous_commit = off;
-- Bulk load: the foreign-key triggers are checked by construction here.
SET session_replication_role = replica;
SET work_mem = '256MB';

INSERT INTO departments (code, name, updated_at)
SELECT 'bench-dept-' || d, 'Bench department ' || d, now() FROM generate_series(1, 6) d;
INSERT INTO matters (id, code, version, is_current, name, description, department_code,
                     department_name, processing_days, originals_by_courier, result_by_courier,
                     id_number_required, content_hash, created_at, prereview_hours)
SELECT md5('matter' || m)::uuid, 'bench-item-' || m, 1, true, 'Bench item ' || m, '',
       'bench-dept-' || (1 + m % 6), 'Bench department ' || (1 + m % 6), 5, true, true, false,
       md5('m' || m), now(), 24
FROM generate_series(0, 19) m;
INSERT INTO matter_materials (id, matter_id, position, code, name, guidance, kinds, min_pages,
                              max_pages, required, original_required)
SELECT md5('material' || m || '-' || k)::uuid, md5('matter' || m)::uuid, k, 'material-' || k,
       'Material ' || k, '', 'photo', 1, 2, true, false
FROM generate_series(0, 19) m, generate_series(1, 3) k;
INSERT INTO citizens (id, openid, created_at, last_login_at)
SELECT md5('citizen' || c)::uuid, 'bench-' || c, now(), now() FROM generate_series(1, 1000) c;

-- One row per case with its milestones: t0 first submission (local 08-20 h), t1 pre-review
-- decision, t2 originals collected, t3 received, td dispatched, t4 department's decision,
-- t5 result delivered. A milestone after now has not happened yet.
CREATE UNLOGGED TABLE bench_seed AS
WITH base AS (
  SELECT i, md5('app' || i)::uuid AS id, floor(20 * power(random(), 2))::int AS m,
         date_trunc('day', now()) - (floor(random() * 365) || ' days')::interval
           + (floor(random() * 43200) || ' seconds')::interval AS t0,
         (3600 * power(48, random()))::int AS d1,
         (86400 * power(5, random()))::int AS d2,
         (20 * 3600 * power(3, random()))::int AS d3,
         (2 * 86400 * power(5, random()))::int AS d4,
         (86400 * power(3, random()))::int AS d5,
         random() < 0.2 AS returned, random() < 0.03 AS rejected, random() < 0.05 AS refused,
         random() < 0.3 AS claimed, (random() * 8)::int AS reason
  FROM generate_series(1, :apps) i
), times AS (
  SELECT *, t0 + make_interval(secs => d1) AS t1,
         t0 + make_interval(secs => d1 * 0.4) AS tr, t0 + make_interval(secs => d1 * 0.6) AS ts,
         t0 + make_interval(secs => d1 + d2 * 0.1) AS tp,
         t0 + make_interval(secs => d1 + d2) AS t2,
         t0 + make_interval(secs => d1 + d2 + d3 * 0.8) AS tdl,
         t0 + make_interval(secs => d1 + d2 + d3) AS t3,
         t0 + make_interval(secs => d1 + d2 + d3 + least(7200, d4 / 2)) AS td,
         t0 + make_interval(secs => d1 + d2 + d3 + d4) AS t4,
         t0 + make_interval(secs => d1 + d2 + d3 + d4 + d5) AS t5
  FROM base
)
SELECT *, 'bench-item-' || m AS matter_code, 'bench-dept-' || (1 + m % 6) AS department_code,
  CASE
    WHEN t1 > now() AND returned AND tr <= now() AND ts > now() THEN 'returned'
    WHEN t1 > now() THEN 'submitted'
    WHEN rejected THEN 'rejected'
    WHEN tp > now() THEN 'prereview_passed'
    WHEN t2 > now() THEN 'pickup_scheduled'
    WHEN t3 > now() THEN 'originals_in_transit'
    WHEN td > now() THEN 'received'
    WHEN t4 > now() THEN 'at_department'
    WHEN refused THEN 'refused'
    WHEN t5 > now() THEN 'result_in_delivery'
    ELSE 'completed'
  END AS state
FROM times;

INSERT INTO applications (id, citizen_id, matter_id, matter_code, state, version, applicant_name,
  applicant_phone, created_at, updated_at, submitted_at, first_submitted_at, department_code,
  claimed_by, claim_expires_at, queue_priority, prereview_due_at, received_at)
SELECT id, md5('citizen' || (1 + i % 1000))::uuid, md5('matter' || m)::uuid, matter_code, state,
  1, 'Bench', '13800000000', t0 - interval '10 minutes', least(now(), t5),
  CASE WHEN returned AND ts <= now() THEN ts ELSE t0 END, t0, department_code,
  CASE WHEN state = 'submitted' AND claimed THEN md5('reviewer')::uuid END,
  CASE WHEN state = 'submitted' AND claimed THEN now() + interval '20 minutes' END,
  CASE WHEN returned AND ts <= now() THEN 1 ELSE 0 END, t0 + interval '24 hours',
  CASE WHEN t3 <= now() THEN t3 END
FROM bench_seed;

-- The timeline, without its indexes while it loads.
ALTER TABLE application_events DROP CONSTRAINT application_events_pkey;
DROP INDEX application_events_application_idx;
INSERT INTO application_events (id, application_id, actor_kind, action, from_state, to_state,
                                created_at)
SELECT gen_random_uuid(), id, kind, action, from_state, to_state, at
FROM bench_seed,
LATERAL (VALUES
  ('citizen', 'create', NULL, 'draft', t0 - interval '10 minutes', true),
  ('citizen', 'submit', 'draft', 'submitted', t0, true),
  ('staff', 'return', 'submitted', 'returned', tr, returned),
  ('citizen', 'resubmit', 'returned', 'submitted', ts, returned),
  ('staff', CASE WHEN rejected THEN 'reject' ELSE 'approve' END, 'submitted',
     CASE WHEN rejected THEN 'rejected' ELSE 'prereview_passed' END, t1, true),
  ('citizen', 'schedule_pickup', 'prereview_passed', 'pickup_scheduled', tp, NOT rejected),
  ('system', 'pick_up', 'pickup_scheduled', 'originals_in_transit', t2, NOT rejected),
  ('system', 'originals_delivered', 'originals_in_transit', 'originals_in_transit', tdl,
     NOT rejected),
  ('staff', 'receive', 'originals_in_transit', 'received', t3, NOT rejected),
  ('system', 'dispatch', 'received', 'at_department', td, NOT rejected),
  ('staff', CASE WHEN refused THEN 'department_refuse' ELSE 'department_approve' END,
     'at_department', CASE WHEN refused THEN 'refused' ELSE 'approved' END, t4, NOT rejected),
  ('staff', 'ship_result', 'approved', 'result_in_delivery', t4 + interval '1 minute',
     NOT rejected AND NOT refused),
  ('system', 'deliver_result', 'result_in_delivery', 'completed', t5,
     NOT rejected AND NOT refused)
) AS step (kind, action, from_state, to_state, at, happens)
WHERE happens AND at <= now();
ALTER TABLE application_events ADD PRIMARY KEY (id);
CREATE INDEX application_events_application_idx
  ON application_events (application_id, created_at);

INSERT INTO decisions (id, application_id, reviewer_id, outcome, reasons, created_at)
SELECT gen_random_uuid(), id, md5('reviewer')::uuid, 'return',
  json_build_array(json_build_object('material_code', 'material-' || (1 + i % 3),
    'reason', (ARRAY['照片模糊', '四角不完整', '有反光', '证件过期', '缺少背面',
                     '页码不全', '信息不一致', '印章不清'])[1 + reason])),
  tr
FROM bench_seed WHERE returned AND tr <= now();
INSERT INTO decisions (id, application_id, reviewer_id, outcome, reasons, created_at)
SELECT gen_random_uuid(), id, md5('reviewer')::uuid,
  CASE WHEN rejected THEN 'reject' ELSE 'approve' END, '[]'::json, t1
FROM bench_seed WHERE t1 <= now();

-- The originals' legs of the cases on their way to reception.
INSERT INTO shipments (id, application_id, leg, partner, order_id, order_status, status,
                       sender, recipient, created_at, updated_at, delivered_at)
SELECT gen_random_uuid(), id, 'materials', 'sf', 'bench-' || i, 'confirmed',
  CASE WHEN tdl <= now() THEN 'delivered' ELSE 'in_transit' END, '{}', '{}', tp, now(),
  CASE WHEN tdl <= now() THEN tdl END
FROM bench_seed WHERE state = 'originals_in_transit';

DROP TABLE bench_seed;
SET session_replication_role = DEFAULT;
ANALYZE;
SQL
seeded=$(secs "$started")

started=$(date +%s.%N)
rebuilt=$("$bin" stats rebuild)
rebuild_secs=$(secs "$started")

counts=$(psql "${pg[@]}" -d "$db" -Atc "select
  (select count(*) from applications), (select count(*) from application_events),
  (select count(*) from decisions),
  (select count(*) from applications where state in
    ('submitted','originals_in_transit','received','at_department')),
  (select count(*) from stats_filings), (select count(*) from stats_stages),
  (select count(*) from stats_materials), (select count(*) from stats_return_reasons),
  pg_size_pretty(pg_database_size(current_database()))")
IFS='|' read -r n_apps n_events n_decisions n_live r_filings r_stages r_materials r_reasons size \
  <<<"$counts"

echo "$password" | "$bin" staff create-admin --username bench.admin >/dev/null 2>&1
"$bin" serve --no-worker >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done
admin=$(post /v1/staff/login "{\"username\":\"bench.admin\",\"password\":\"$password\"}" |
  json "['access_token']")
post /v1/admin/staff "{\"username\":\"bench.reviewer\",\"display_name\":\"Bench\",\"password\":\"$password\",\"roles\":[\"reviewer\"],\"departments\":[\"bench-dept-1\"]}" \
  -H "authorization: Bearer $admin" >/dev/null
reviewer=$(post /v1/staff/login "{\"username\":\"bench.reviewer\",\"password\":\"$password\"}" |
  json "['access_token']")

# name path token: BENCH_REQUESTS sequential requests on one connection; median and p99 in ms.
measure() {
  local config="$work/curl.cfg"
  : >"$config"
  for _ in $(seq 1 "$requests"); do
    printf 'url = "%s"\noutput = "/dev/null"\n' "$base$2" >>"$config"
  done
  local auth=()
  [ -n "$3" ] && auth=(-H "authorization: Bearer $3")
  curl -sS "${auth[@]}" -K "$config" -w '%{http_code} %{time_total}\n' >"$work/times.txt"
  python3 - "$1" "$2" "$work/times.txt" <<'PY'
import sys
name, path, file = sys.argv[1:]
rows = [line.split() for line in open(file) if line.strip()]
bad = sum(1 for code, _ in rows if code != "200")
times = sorted(float(t) * 1000 for _, t in rows)
def q(p):
    return times[min(len(times) - 1, max(0, int(round(p * len(times) + 0.5)) - 1))]
print(f"| {name} | `GET {path}` | {q(0.5):.1f} | {q(0.99):.1f} | {bad} |")
PY
}

year_from=$(date -d '-365 days' +%F)
today=$(date +%F)
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$(psql "${pg[@]}" -Atc 'select version()' | cut -d' ' -f1-2); binary $bin"
echo
echo "data: $n_apps applications, $n_events events, $n_decisions decisions, $n_live live cases;" \
  "rollup rows: filings $r_filings, stages $r_stages, materials $r_materials," \
  "reasons $r_reasons; database $size"
echo "seeded in ${seeded} s; rebuild ${rebuild_secs} s: $rebuilt"
echo
echo "| who | request | median ms | p99 ms | non-200 |"
echo "|---|---|---|---|---|"
measure "floor" /healthz ""
for route in filings workload stages returns; do
  measure "admin, every dept, 30 days" "/v1/stats/$route" "$admin"
done
for route in filings stages returns; do
  measure "admin, every dept, a year" "/v1/stats/$route?from=$year_from&to=$today" "$admin"
done
for route in filings workload stages returns; do
  measure "reviewer, one dept, 30 days" "/v1/stats/$route" "$reviewer"
done
measure "reviewer, one dept, a year" "/v1/stats/stages?from=$year_from&to=$today" "$reviewer"
measure "material's reasons, a year" \
  "/v1/stats/returns?from=$year_from&to=$today&matter=bench-item-0&material=material-1" "$admin"
stop

# The floor of the database: one client, read-only.
dropdb "${pg[@]}" --if-exists "${db}_pgbench"
createdb "${pg[@]}" "${db}_pgbench"
pgbench "${pg[@]}" -i -q "${db}_pgbench" >/dev/null 2>&1
latency() { awk '/latency average/ {print $4}'; }
select_s=$(pgbench "${pg[@]}" -n -S -c1 -T10 "${db}_pgbench" 2>/dev/null | latency)
echo 'select 1;' >"$work/select1.sql"
select_1=$(pgbench "${pg[@]}" -n -c1 -T10 -f "$work/select1.sql" "${db}_pgbench" 2>/dev/null |
  latency)
echo "| PostgreSQL | \`pgbench -c1 -T10 -S\` (average) | $select_s | | |"
echo "| PostgreSQL | \`select 1\` round trip, \`pgbench -c1 -T10\` (average) | $select_1 | | |"
