#!/usr/bin/env bash
# The main job: install what is missing, build, and run `phr demo` (a local network with
# the contracts deployed and a real patient story). Extra arguments go to `phr demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
echo "building phr (the first build compiles RocksDB and wasmtime: 25-35 minutes on 2 cores)..." >&2
cargo build --release --locked -p phr-node --bin phr
exec "$PHR_BIN" demo "$@"
