#!/usr/bin/env bash
# Upload benchmark: 32 concurrent clients upload 4 MiB photos through the service (path A) and,
# in the same run, PUT the same bytes straight to the same object store through presigned URLs
# (the physical limit here). Then 32 concurrent 8 MiB uploads, sampling the server's RSS.
# Runs the release build on embedded defaults (SQLite file, filesystem store) in a temp dir.
# Needs python3 with Pillow (installed with pip when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
cargo build --release --quiet
work=$(mktemp -d)
port=${BENCH_PORT:-18080}
BEEBOX_DATA_DIR="$work" BEEBOX_SERVER__PORT="$port" BEEBOX_LOG__FILTER=warn \
  "${CARGO_TARGET_DIR:-target}/release/beebox" serve >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; disk under $work: $(df -h "$work" | awk 'NR==2 {print $1}')"
python3 scripts/bench_upload.py "http://127.0.0.1:$port" "$pid"
