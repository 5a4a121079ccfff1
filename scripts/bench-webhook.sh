#!/usr/bin/env bash
# Webhook benchmark: signed SF route pushes, or with BENCH_PARTNER=ems China Post EMS's sealed
# trace pushes (one route event each, so requests/s = events/s) into the release build on
# PostgreSQL, against PostgreSQL's own limit measured in the same run.
#
# - Seeds applications in `pickup_scheduled` with their `materials` shipment (SF order created,
#   known waybill) straight into a fresh database the service has migrated, then pre-signs one
#   distinct push per route step (50 collected, 30, 31, 44, 80 delivered): every push matches a
#   shipment, moves it, and the first one moves its application on, as in production (EMS:
#   203 collected, 389, 954, 702, 704 delivered, each sealed with the dev sign key). No body
#   is sent twice (a replay would only measure the dedupe path).
# - Maximum sustained rate: wrk, BENCH_CONNECTIONS connections on BENCH_THREADS threads,
#   cycling through the bodies (scripts/bench_webhook.lua).
# - Latency at a fixed BENCH_RATE: an open-loop generator in scripts/bench_webhook.py. oha has
#   `-q` but takes bodies only from `-Z FILE`, picking a random line for each request (with
#   replacement), so a run of any length replays pushes; wrk2 is not packaged here. The
#   generator's own floor (the same rate against GET /healthz) and lag are printed with it.
# - The limit: pgbench's tpcb-like transaction and `-S`, same clients and threads as wrk, on a
#   scratch database of the same cluster. The tpcb-like run is repeated right after the wrk run
#   and the two are averaged, as the machine's speed drifts within minutes.
# - Afterwards, every distinct push sent must be stored exactly once.
#
# The job worker stays on, as in production: each collected parcel queues the citizen's
# notification, which the worker fans out meanwhile. Logging stays at the default (info), which
# writes one line per push as production does. Other BEEBOX_* variables pass through to the
# service (BEEBOX_JOBS__WORKER=false, say, to see what the worker costs).
#
# Needs PostgreSQL at 127.0.0.1:5432 with trust auth for `postgres` (started when down), wrk
# (installed when missing), python3, and for EMS python's `cryptography` (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-30}
connections=${BENCH_CONNECTIONS:-8}
threads=${BENCH_THREADS:-2}
rate=${BENCH_RATE:-500}
events=${BENCH_EVENTS:-150000} # distinct pushes pre-signed for the wrk run; more than it can send
# BENCH_EXTRA_SQL: SQL run on the service's database after seeding (none by default).
# BENCH_WALDUMP=1: also print what the wrk run's WAL is made of (pg_waldump --stats=record).
# BENCH_SSLMODE: the service's and pgbench's sslmode alike (libpq's and sqlx's default, prefer,
# which uses TLS even on loopback when the server offers it).
sslmode=${BENCH_SSLMODE:-prefer}
export PGSSLMODE=$sslmode
db=${BENCH_DB:-beebox_bench_webhook}
port=${BENCH_PORT:-18081}
base="http://127.0.0.1:$port"
partner=${BENCH_PARTNER:-sf}
export BENCH_PARTNER=$partner
path="/v1/webhooks/courier/$partner?secret=dev-$partner-webhook-secret"
content_type=application/x-www-form-urlencoded
probe_waybill=SF9000000000000
partners='["sf"]'
if [ "$partner" = ems ]; then
  partners='["sf", "ems"]'
  content_type=application/json
  probe_waybill=1900000000000
  python3 -c 'import cryptography' 2>/dev/null || pip install -q cryptography
fi
pg=(-h 127.0.0.1 -p 5432 -U postgres)
sql() { psql "${pg[@]}" -d "$db" -v ON_ERROR_STOP=1 -qAt "$@"; }
py() { python3 scripts/bench_webhook.py "$@"; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
pg_isready "${pg[@]}" -q ||
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
# BENCH_BIN: a beebox binary built before (to compare two builds in alternate runs); by
# default the release build of this checkout.
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  dropdb "${pg[@]}" --if-exists "$db" 2>/dev/null || true
  dropdb "${pg[@]}" --if-exists "${db}_pgbench" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for name in "$db" "${db}_pgbench"; do
  dropdb "${pg[@]}" --if-exists "$name"
  createdb "${pg[@]}" "$name"
done

# Every push comes from one loopback address here, so the per-address webhook limit (2,000 a
# second by default) would measure the limiter, not ingest: it is off unless set.
BEEBOX_RATE_LIMITS__WEBHOOK_PER_IP__PER_MINUTE="${BEEBOX_RATE_LIMITS__WEBHOOK_PER_IP__PER_MINUTE:-0}" \
  BEEBOX_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=$sslmode" BEEBOX_DATA_DIR="$work" \
  BEEBOX_SERVER__PORT="$port" BEEBOX_COURIER__PARTNERS="$partners" "$bin" serve \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -fs "$base/readyz" >/dev/null && break
  sleep 0.2
done
curl -fs "$base/readyz" >/dev/null || { tail -20 "$work/server.log"; exit 1; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$(psql "${pg[@]}" -Atc 'select version()' | cut -d' ' -f1-2)"

# Shipment 0 is the probe; the wrk run takes the next ones, the fixed-rate run the rest.
wrk_shipments=$(((events + 4) / 5))
rate_events=$((rate * seconds))
rate_shipments=$(((rate_events + 4) / 5))
py seed-sql 0 $((1 + wrk_shipments + rate_shipments)) | sql >/dev/null
echo "seeded $((1 + wrk_shipments + rate_shipments)) applications with an $partner shipment each"
if [ -n "${BENCH_EXTRA_SQL:-}" ]; then
  # To try a schema change (an index, say) before writing its migration.
  echo "extra SQL: $BENCH_EXTRA_SQL"
  sql <<<"$BENCH_EXTRA_SQL" # from stdin: each statement on its own (VACUUM, say)
fi
py bodies "$work/wrk.bodies" 1 "$wrk_shipments" >/dev/null
py bodies "$work/rate.bodies" $((1 + wrk_shipments)) "$rate_shipments" "$rate_events" >/dev/null
echo "pre-signed $(wc -l <"$work/wrk.bodies") + $(wc -l <"$work/rate.bodies") distinct pushes"

echo "probe push: $(py probe "$base")"
moved=$(sql -c "select s.status || ' / ' || a.state from shipments s join applications a
  on a.id = s.application_id where s.waybill_no = '$probe_waybill'")
[ "$moved" = "picked_up / originals_in_transit" ] ||
  { echo "the probe did not move its shipment and application: $moved"; exit 1; }
echo "probe shipment / application: $moved"

echo "pgbench tpcb-like and -S, $connections clients, $threads threads, ${seconds}s each"
pgbench "${pg[@]}" -i -q "${db}_pgbench" >/dev/null 2>&1
pgbench "${pg[@]}" -c "$connections" -j "$threads" -T "$seconds" "${db}_pgbench" \
  >"$work/pgbench-tpcb.txt" 2>/dev/null
pgbench "${pg[@]}" -S -c "$connections" -j "$threads" -T "$seconds" "${db}_pgbench" \
  >"$work/pgbench-select.txt" 2>/dev/null

echo "{\"connections\": $connections, \"threads\": $threads}" >"$work/params.json"
py rate "$base" /healthz - "$rate" 5 >"$work/calib.json"

# Where the time goes: what the service's connections are doing, sampled every 20 ms during the
# wrk run (pg_stat_statements is not loaded on this cluster, and loading it needs a restart).
sql >"$work/activity.txt" <<SQL &
create temp table samples (state text, wait text, query text);
do \$\$
declare
  stop timestamptz := clock_timestamp() + interval '$((seconds - 2)) seconds';
begin
  perform pg_sleep(1);
  while clock_timestamp() < stop loop
    perform pg_stat_clear_snapshot();
    insert into samples
      select state, coalesce(wait_event_type || ':' || wait_event, 'on CPU'),
             case when state = 'idle' then '' else
               left(regexp_replace(query, '\s+', ' ', 'g'), 110) end
      from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid()
        and backend_type = 'client backend';
    insert into samples values ('tick', '', '');
    perform pg_sleep(0.02);
  end loop;
end \$\$;
select to_char(count(*)::float / (select count(*) from samples where state = 'tick'), '90.00')
       || '  ' || state || '  ' || wait || '  ' || query
from samples where state <> 'tick' group by state, wait, query order by count(*) desc limit 14;
SQL
sampler=$!
table_stats() {
  sql -c "select seq_scan || ' ' || seq_tup_read || ' ' || n_tup_ins from pg_stat_user_tables
    where relname = 'shipment_events'"
}
stats_before=$(table_stats)
lsn() { sql -c "select pg_current_wal_lsn()"; }
wal_since() { sql -c "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$1')"; }
wal0=$(lsn)
batches() { curl -fs "$base/metrics" | awk '/^beebox_webhook_batch_pushes_(sum|count)/ {printf "%s ", $2}'; }
batches_before=$(batches)
py cpu >"$work/cpu-before.json"
wrk -t "$threads" -c "$connections" -d "${seconds}s" -s scripts/bench_webhook.lua \
  "$base$path" -- "$work/wrk.bodies" "$threads" "$content_type" >"$work/wrk.txt"
py cpu >"$work/cpu-after.json"
stats_after=$(table_stats)
wal_wrk=$(wal_since "$wal0")
if [ -n "${BENCH_WALDUMP:-}" ]; then
  # What the WAL of the wrk run is made of, by record type (needs read access to pg_wal).
  "$(ls -d /usr/lib/postgresql/*/bin | tail -1)/pg_waldump" --stats=record \
    -p "$(psql "${pg[@]}" -Atc 'show data_directory')/pg_wal" -s "$wal0" -e "$(lsn)" \
    >"$work/waldump.txt" 2>&1 || true
fi
batches_after=$(batches)
wait "$sampler"
sed -n 's/^WRK_JSON //p' "$work/wrk.txt" >"$work/wrk.json"
python3 -c 'import json,sys; w=json.load(open(sys.argv[1])); sys.exit(w["out_of_bodies"] > 0)' \
  "$work/wrk.json" || { echo "wrk ran out of distinct pushes: raise BENCH_EVENTS"; exit 1; }

# The limit again, right after the wrk run: the summary compares against the mean of both.
wal0=$(lsn)
pgbench "${pg[@]}" -c "$connections" -j "$threads" -T "$seconds" "${db}_pgbench" \
  >"$work/pgbench-tpcb-after.txt" 2>/dev/null
wal_tpcb=$(wal_since "$wal0")
tpcb_txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench-tpcb-after.txt")

# A push cut off in flight when wrk stopped got no answer, and the partner pushes it again: so
# does this.
read -r -a sent < <(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["sent_per_thread"])' "$work/wrk.json")
BENCH_DB=$db py repush "$base" "$work/wrk.bodies" "$threads" "${sent[@]}" >"$work/repush.json"
repushed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["missing"])' "$work/repush.json")

# The service's own histogram around the run, to tell its latency from the generator's lag.
curl -fs "$base/metrics" >"$work/metrics-rate-before.txt"
py rate "$base" "$path" "$work/rate.bodies" "$rate" "$seconds" >"$work/rate.json"
curl -fs "$base/metrics" >"$work/metrics-rate-after.txt"
sleep 1

wrk_sent=$((${sent[*]/%/+} 0))
rate_sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/rate.json")
stored=$(sql -c "select count(*) from shipment_events where waybill_no like '${probe_waybill:0:3}%'")
echo "{\"stored\": $stored, \"sent\": $((1 + wrk_sent + rate_sent)), \"repushed\": $repushed}" \
  >"$work/counts.json"

echo
echo "where the time goes during the wrk run (PostgreSQL side: average number of the service's"
echo "connections in each state; 'idle in transaction' = waiting on the service mid-transaction)"
sed 's/^/  /' "$work/activity.txt"
read -r scans0 tuples0 inserts0 <<<"$stats_before"
read -r scans1 tuples1 inserts1 <<<"$stats_after"
inserted=$((inserts1 - inserts0))
echo "  shipment_events: $((scans1 - scans0)) sequential scans reading $((tuples1 - tuples0)) rows" \
  "for $inserted rows inserted ($(((tuples1 - tuples0) / (inserted > 0 ? inserted : 1))) rows read per event)"
read -r pushed0 batched0 <<<"$batches_before"
read -r pushed1 batched1 <<<"$batches_after"
echo "  WAL written: $((wal_wrk / (pushed1 - pushed0 > 0 ? pushed1 - pushed0 : 1))) bytes a push" \
  "(the wrk run), $((wal_tpcb / (tpcb_txns > 0 ? tpcb_txns : 1))) bytes a tpcb-like transaction" \
  "(the run after it)"
if [ -f "$work/waldump.txt" ]; then awk 'NR <= 2 || $2 + 0 > 0' "$work/waldump.txt" | sed 's/^/    /'; fi
echo "  group commit: $((batched1 - batched0)) transactions for $((pushed1 - pushed0)) pushes" \
  "($(python3 -c "print(round(($pushed1 - $pushed0) / max(1, $batched1 - $batched0), 2))") pushes each)"
echo "  after the run: $(sql -c "select count(*) || ' events stored, ' ||
  count(*) filter (where shipment_id is null) || ' unmatched' from shipment_events")," \
  "$(sql -c "select string_agg(state || ' ' || n, ', ') from (select state, count(*) n
  from applications group by state order by 1) x") (applications)," \
  "$(sql -c "select string_agg(status || ' ' || n, ', ') from (select status, count(*) n
  from shipments group by status order by 1) x") (shipments)"
py summary "$work"
