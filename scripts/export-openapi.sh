#!/usr/bin/env bash
# Regenerates the committed contract, openapi/beebox.yaml, from the code.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --bin beebox -- openapi > openapi/beebox.yaml.tmp
mv openapi/beebox.yaml.tmp openapi/beebox.yaml
echo "wrote openapi/beebox.yaml"
