#!/usr/bin/env bash
# Restore drill: back up a Beebox PostgreSQL database with pg_dump, restore it into a scratch
# database, and check that the restore holds what the backup saw.
#
#   scripts/restore-drill.sh postgres://user@host:5432/beebox [DUMP_FILE]
#
# - The counts to compare are taken in the very snapshot pg_dump saves (an exported snapshot
#   of a REPEATABLE READ transaction), so a live service writing meanwhile changes nothing.
# - The dump (custom format, DUMP_FILE or a temporary file) is restored with pg_restore into
#   a scratch database `<name>_drill` on the same server (dropped first if it exists).
# - Then every table's row count must match, and the restored database's migration level
#   must be the source's: `beebox migrate` against it must find nothing to do.
# - Prints a line per table and the time each step took; exits 1 on any mismatch. The scratch
#   database is dropped at the end unless DRILL_KEEP=1.
#
# Needs psql, pg_dump and pg_restore of the server's major version (Debian's postgresql-client),
# and the beebox binary (DRILL_BIN, default target/release/beebox, built when missing). Objects
# in the bucket are not part of this drill: bucket versioning covers them (docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."

source_url=${1:?usage: scripts/restore-drill.sh postgres://... [DUMP_FILE]}
dump=${2:-}
name=${source_url##*/}
name=${name%%\?*}
scratch="${name}_drill"
scratch_url="${source_url%/*}/$scratch"
admin_url="${source_url%/*}/postgres"
bin=${DRILL_BIN:-target/release/beebox}
[ -x "$bin" ] || cargo build --release --quiet --bin beebox

work=$(mktemp -d)
[ -n "$dump" ] || dump="$work/beebox.dump"
cleanup() {
  [ -n "${reader_pid:-}" ] && kill "$reader_pid" 2>/dev/null || true
  [ "${DRILL_KEEP:-0}" = 1 ] ||
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$scratch\"" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

counts_sql() { # one query counting every table of the public schema, as `table|count` rows
  psql "$1" -Atc "SELECT string_agg(format('SELECT %L, count(*) FROM public.%I', table_name, table_name), ' UNION ALL ' ORDER BY table_name)
    FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
}

step() { printf '%-44s' "$1"; started=$(date +%s.%N); }
done_step() { printf '%6.1f s  %s\n' "$(echo "$(date +%s.%N) - $started" | bc)" "${1:-}"; }

# A transaction that holds the snapshot open while pg_dump reads it.
step "snapshot and source counts"
mkfifo "$work/in"
psql "$source_url" -Atq <"$work/in" >"$work/out" &
reader_pid=$!
exec 3>"$work/in"
query=$(counts_sql "$source_url")
printf '%s\n' "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;" \
  "SELECT 'snapshot', pg_export_snapshot();" "$query;" >&3
for _ in $(seq 1 600); do
  grep -q '^snapshot|' "$work/out" && [ "$(grep -vc '^snapshot|' "$work/out")" -gt 0 ] && break
  sleep 0.1
done
sleep 0.2 # the rest of the counts
snapshot=$(awk -F'|' '$1 == "snapshot" {print $2}' "$work/out")
grep -v '^snapshot|' "$work/out" | sort >"$work/source.txt"
done_step "$(wc -l <"$work/source.txt") tables"

step "pg_dump (custom format)"
pg_dump "$source_url" --snapshot="$snapshot" -Fc -f "$dump"
done_step "$(du -h "$dump" | cut -f1)"
printf '%s\n' "COMMIT;" >&3
exec 3>&-
wait "$reader_pid" || true
reader_pid=

step "pg_restore into $scratch"
psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$scratch\"" -c "CREATE DATABASE \"$scratch\"" >/dev/null 2>&1
pg_restore --no-owner --exit-on-error -d "$scratch_url" "$dump"
done_step

step "restored counts"
psql "$scratch_url" -Atc "$(counts_sql "$scratch_url")" | sort >"$work/restored.txt"
done_step

step "beebox migrate on the restore"
migrate=$(BEEBOX_DATABASE__URL="$scratch_url" "$bin" migrate 2>&1) || {
  echo "failed"
  echo "$migrate"
  exit 1
}
done_step "$(echo "$migrate" | tail -1)"
source_level=$(psql "$source_url" -Atc "SELECT max(version) FROM seaql_migrations")
restored_level=$(psql "$scratch_url" -Atc "SELECT max(version) FROM seaql_migrations")

echo
bad=0
join -t'|' -a1 -a2 -e missing -o 0,1.2,2.2 "$work/source.txt" "$work/restored.txt" >"$work/both.txt"
while IFS='|' read -r table source restored; do
  if [ "$source" = "$restored" ]; then
    printf '  %-32s %10s rows\n' "$table" "$source"
  else
    printf '  %-32s %10s rows in the backup, %s restored  MISMATCH\n' "$table" "$source" "$restored"
    bad=1
  fi
done <"$work/both.txt"
echo "  migration level: source $source_level, restored $restored_level"
[ "$source_level" = "$restored_level" ] || bad=1
echo
if [ "$bad" = 0 ]; then
  echo "restore drill passed: every table's rows and the migration level match"
else
  echo "restore drill FAILED" >&2
  exit 1
fi
