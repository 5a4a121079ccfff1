#!/usr/bin/env bash
# Console benchmark: the release build on embedded defaults (SQLite, filesystem store) in a temp
# dir, seeded with a reviewer and BENCH_CASES (20) submitted cases of real-size photos; then
# tests/console/bench.mjs measures in Debian's chromium the cold first load's bytes, the queue's
# time to interactive, and the next page image's time to show, each beside its floor measured in
# the same run. BENCH_BIN names another binary. Needs chromium, node and python3 with Pillow.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
[ -d tests/console/node_modules/playwright-core ] || npm ci --prefix tests/console --no-audit --no-fund
work=$(mktemp -d)
port=${BENCH_PORT:-18081}
password="bench password long enough"
export BEEBOX_DATA_DIR="$work" BEEBOX_SERVER__PORT="$port" BEEBOX_LOG__FILTER=warn
printf '%s\n%s\n' "$password" "$password" | "$bin" staff create-admin --username bench.admin >/dev/null
"$bin" serve >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
base="http://127.0.0.1:$port"
echo "machine: $(nproc) cores; binary: $bin"
user=$(python3 scripts/bench_console.py "$base" bench.admin "$password")
(cd tests/console && node bench.mjs "$base" "$user" "$password")
