#!/usr/bin/env bash
# The whole test suite, the console's browser tests included: unit tests and the api binary on
# SQLite, then the api binary again on PostgreSQL when a server is reachable.
# BEEBOX_TEST_REQUIRE_PG=1 makes a missing PostgreSQL an error.
# BEEBOX_TEST_PG_URL names the server (an admin URL; each test creates its own database).
# BEEBOX_TEST_REQUIRE_CLUSTER=1 makes the cluster test (PostgreSQL pass) fail, instead of
# skipping, when haproxy or s3s-fs is not on PATH.
# The SMTP peer (maildev, see scripts/peers.sh) is started first if it is not already running.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${BEEBOX_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
require_pg="${BEEBOX_TEST_REQUIRE_PG:-0}"
passes=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs cargo test, echoing its output and keeping a copy to count results from.
run_tests() {
  "$@" 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}

drop_test_databases() {
  psql "$pg_url" -Atqc "select datname from pg_database where datname like 'beebox_t_%'" |
    while read -r db; do psql "$pg_url" -qc "drop database if exists \"$db\" with (force)"; done
}

# The mail tests send to the real SMTP peer and read it back over its HTTP API.
scripts/peers.sh start

# The console's browser tests: Playwright (from npm, pinned by tests/console/package-lock.json)
# drives Debian's chromium (CHROMIUM names another build).
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "the console's browser tests need chromium: apt-get install -y chromium" >&2
  exit 1
fi
if [ ! -d tests/console/node_modules/playwright-core ] ||
  [ tests/console/package-lock.json -nt tests/console/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/console --no-audit --no-fund
fi
export BEEBOX_TEST_SMTP=127.0.0.1:2525
export BEEBOX_TEST_MAILDEV=http://127.0.0.1:2580

echo "== pass 1: SQLite (temporary file per test)"
run_tests env -u BEEBOX_TEST_DATABASE_URL cargo test --workspace --locked
passes+=("SQLite: passed")

if psql "$pg_url" -Atqc 'select 1' >/dev/null 2>&1; then
  echo "== pass 2: PostgreSQL ($pg_url, one database per test)"
  drop_test_databases
  trap 'drop_test_databases; rm -f "$log"' EXIT
  run_tests env BEEBOX_TEST_DATABASE_URL="$pg_url" cargo test --locked --test api
  passes+=("PostgreSQL: passed")
elif [ "$require_pg" = "1" ]; then
  echo "PostgreSQL at $pg_url is not reachable and BEEBOX_TEST_REQUIRE_PG=1" >&2
  exit 1
else
  passes+=("PostgreSQL: SKIPPED (no server at $pg_url)")
fi

echo "== passes run"
printf '  %s\n' "${passes[@]}"
passed=$(grep -o '[0-9]* passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -o '[0-9]* failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: $passed passed, $failed failed"
