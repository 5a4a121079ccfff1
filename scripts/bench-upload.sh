#!/usr/bin/env bash
# Upload benchmark, on both stores. For each: 32 concurrent clients upload 4 MiB photos through
# the service (path A) and, in the same run, PUT the same bytes straight to the same store through
# presigned URLs (the physical limit here); then 8 MiB photos from 32 and from 128 clients while
# the service's RSS is sampled.
#   1. the filesystem store (embedded defaults: SQLite file, the service serves the PUT itself);
#   2. S3: an `s3s-fs` server in its own process on loopback (path-style, SigV4), installed with
#      `cargo install` when missing, and the service configured with `storage.backend = "s3"`.
# Runs the release build (BENCH_BIN names another binary) with logging at `warn` in temp dirs.
# BENCH_STORES=fs or s3 runs one. Needs python3 with Pillow (installed with pip when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/beebox}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
if ! command -v s3s-fs >/dev/null; then
  cargo install s3s-fs --version 0.14.1 --locked --features binary --quiet
fi
stores=${BENCH_STORES:-"fs s3"}
port=${BENCH_PORT:-18080}
s3_port=$((port + 1))
pids=()
dirs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "${dirs[@]}"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answers at $1" >&2
  return 1
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; binary: $bin"
for store in $stores; do
  store_pid=
  work=$(mktemp -d)
  dirs+=("$work")
  export BEEBOX_DATA_DIR="$work/service" BEEBOX_SERVER__PORT="$port" BEEBOX_LOG__FILTER=warn
  if [ "$store" = s3 ]; then
    mkdir -p "$work/s3/beebox-bench"
    s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key bench-access-key \
      --secret-key bench-secret-key-0123456789 "$work/s3" >"$work/s3.log" 2>&1 &
    store_pid=$!
    pids+=("$store_pid")
    for _ in $(seq 1 100); do
      curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break
      sleep 0.1
    done
    export BEEBOX_STORAGE__BACKEND=s3 BEEBOX_STORAGE__S3__ENDPOINT="http://127.0.0.1:$s3_port" \
      BEEBOX_STORAGE__S3__BUCKET=beebox-bench BEEBOX_STORAGE__S3__PATH_STYLE=true \
      BEEBOX_STORAGE__S3__ACCESS_KEY_ID=bench-access-key \
      BEEBOX_STORAGE__S3__SECRET_ACCESS_KEY=bench-secret-key-0123456789
  fi
  "$bin" serve >"$work/server.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "http://127.0.0.1:$port/readyz"
  echo "== store: $store"
  python3 scripts/bench_upload.py "http://127.0.0.1:$port" "$pid" ${store_pid:-}
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  unset BEEBOX_STORAGE__BACKEND
done
