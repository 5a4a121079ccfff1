#!/usr/bin/env bash
# Retention benchmark: the release build on PostgreSQL and s3s-fs (its own process) destroys
# BENCH_CASES (100,000) ended cases past their dates (a page object and its row, the personal
# fields) in batches of retention.batch, while courier pushes arrive at BENCH_RATE (200/s); the
# pushes' p99 is compared with the same rate before the destruction, in the same run.
#
# Seeding goes straight to the database and the bucket's directory: the cases completed 400
# days ago, each with one page row and its 2 KiB object. The service first runs with the
# periods at their longest (nothing due) for the baseline, then again with the defaults, and its
# scheduled job (retention.every_secs = 10) destroys everything while the pushes run.
set -euo pipefail
cd "$(dirname "$0")/.."

cases=${BENCH_CASES:-100000}
rate=${BENCH_RATE:-200}
seconds=${BENCH_SECONDS:-60}
port=${BENCH_PORT:-18090}
s3_port=$((port + 1))
db=beebox_bench_retention
pg=(-h 127.0.0.1 -p 5432 -U postgres)
sql() { psql "${pg[@]}" -d "$db" -v ON_ERROR_STOP=1 -qAt "$@"; }
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet --bin beebox
command -v s3s-fs >/dev/null || cargo install s3s-fs --version 0.14.1 --locked --features binary --quiet

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  dropdb "${pg[@]}" --if-exists "$db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dropdb "${pg[@]}" --if-exists "$db"
createdb "${pg[@]}" "$db"
mkdir -p "$work/s3/bench"
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key bench-access --secret-key bench-secret-key-0123 \
  "$work/s3" >"$work/s3.log" 2>&1 &
pids+=($!)

export BEEBOX_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" BEEBOX_DATA_DIR="$work" \
  BEEBOX_SERVER__PORT="$port" BEEBOX_LOG__FILTER=warn BEEBOX_STORAGE__BACKEND=s3 \
  BEEBOX_STORAGE__S3__ENDPOINT="http://127.0.0.1:$s3_port" BEEBOX_STORAGE__S3__BUCKET=bench \
  BEEBOX_STORAGE__S3__PATH_STYLE=true BEEBOX_STORAGE__S3__ACCESS_KEY_ID=bench-access \
  BEEBOX_STORAGE__S3__SECRET_ACCESS_KEY=bench-secret-key-0123 \
  BEEBOX_RATE_LIMITS__WEBHOOK_PER_IP__PER_MINUTE=0 BEEBOX_RETENTION__EVERY_SECS=10
serve() { # extra environment for this run
  env "$@" "$bin" serve >>"$work/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.2; done
  tail -20 "$work/server.log"
  exit 1
}
stop() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

# Nothing due: the periods at their longest.
long=(BEEBOX_RETENTION__PHOTOS_DAYS=36500 BEEBOX_RETENTION__RESULTS_DAYS=36500
  BEEBOX_RETENTION__PERSONAL_DAYS=36500 BEEBOX_RETENTION__ABANDONED_DAYS=3650)
serve "${long[@]}"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
sql <<SQL
BEGIN;
CREATE TEMP TABLE m ON COMMIT DROP AS
  SELECT id, code, department_code FROM matters WHERE is_current ORDER BY code LIMIT 1;
INSERT INTO citizens (id, openid, unionid, created_at, last_login_at)
SELECT md5('ended-citizen-' || i)::uuid, 'ended-openid-' || i, NULL, now(), now()
FROM generate_series(1, $cases) AS i;
INSERT INTO applications
  (id, citizen_id, matter_id, matter_code, state, version, applicant_name, applicant_phone,
   created_at, updated_at, submitted_at, first_submitted_at, department_code)
SELECT md5('ended-' || i)::uuid, md5('ended-citizen-' || i)::uuid, m.id, m.code, 'completed', 9,
       '压测' || i, '13800138000', now() - interval '430 days', now() - interval '400 days',
       now() - interval '430 days', now() - interval '430 days', m.department_code
FROM generate_series(1, $cases) AS i, m;
INSERT INTO pages (id, application_id, material_code, position, object_key, content_type, size,
                   sha256, created_at, thumbnail_attempts)
SELECT md5('ended-page-' || i)::uuid, md5('ended-' || i)::uuid, 'id-card', 1,
       'applications/' || md5('ended-' || i)::uuid || '/pages/' || md5('ended-page-' || i)::uuid || '.jpg',
       'image/jpeg', 2048, md5('p' || i), now() - interval '430 days', 3
FROM generate_series(1, $cases) AS i;
COMMIT;
ANALYZE applications; ANALYZE pages;
SQL
sql -c "select object_key from pages" | python3 -c '
import os, sys
root = sys.argv[1]
body = os.urandom(2048)
for key in sys.stdin:
    path = os.path.join(root, key.strip())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(body)
' "$work/s3/bench"
echo "seeded $cases ended cases, one 2 KiB page object each"

# Pushes for both runs: shipments of their own, pre-signed.
events=$((rate * seconds))
shipments=$(((2 * events + 4) / 5 + 1))
python3 scripts/bench_webhook.py seed-sql 0 "$shipments" | sql >/dev/null
python3 scripts/bench_webhook.py bodies "$work/bodies" 1 "$((shipments - 1))" >/dev/null
head -n "$events" "$work/bodies" >"$work/before.bodies"
tail -n "+$((events + 1))" "$work/bodies" >"$work/during.bodies"
path="/v1/webhooks/courier/sf?secret=dev-sf-webhook-secret"
summary() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("p50 %s ms, p99 %s ms, ok %s/%s" % (r["p50_ms"], r["p99_ms"], r["ok"], r["requests"]))
PY
}
# The seeding's own writes flushed first, so the baseline does not pay for them.
sync
sql -c "CHECKPOINT"
sleep 5
python3 scripts/bench_webhook.py rate "http://127.0.0.1:$port" "$path" "$work/before.bodies" \
  "$rate" "$seconds" >"$work/before.json"
echo "pushes at $rate/s, nothing to destroy: $(summary "$work/before.json")"
stop

serve
start=$(date +%s.%N)
python3 scripts/bench_webhook.py rate "http://127.0.0.1:$port" "$path" "$work/during.bodies" \
  "$rate" "$seconds" >"$work/during.json" &
pusher=$!
left() { sql -c "select count(*) from applications where state = 'completed' and personal_destroyed_at is null"; }
while [ "$(left)" != 0 ]; do sleep 1; done
rows_done=$(date +%s.%N)
while [ -n "$(find "$work/s3/bench/applications" -type f -name '*.jpg' -print -quit)" ]; do sleep 1; done
objects_done=$(date +%s.%N)
wait "$pusher"
echo "pushes at $rate/s during the destruction: $(summary "$work/during.json")"
secs() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$1"; }
echo "destroyed: rows and fields of $cases cases in $(secs "$rows_done") s, their objects in $(secs "$objects_done") s"
echo "records: $(sql -c "select part || ' ' || count(*) from destructions group by part order by part" | tr '\n' ' ')"
