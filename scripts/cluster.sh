#!/usr/bin/env bash
# Start a local network of N nodes (default 3) on loopback, print each node's API URL,
# and keep it running until Ctrl-C. Options: --nodes N, --dir DIR (kept afterwards),
# --base-port P (node i serves its API on P+i; default 7700; 0 picks free ports).
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=3
DIR=""
BASE_PORT=7700
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --base-port) BASE_PORT="$2"; shift 2 ;;
    *) echo "usage: scripts/cluster.sh [--nodes N] [--dir DIR] [--base-port P]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --locked -p phr-node --bin phr >&2
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d)/network
  trap 'rm -rf "$(dirname "$DIR")"' EXIT
fi
"$PHR_BIN" network init --out "$DIR" --nodes "$NODES" --orgs stmarys,northclinic,citylab --base-port "$BASE_PORT" >/dev/null
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap 'cleanup; exit 130' INT TERM
for i in $(seq 0 $((NODES - 1))); do
  "$PHR_BIN" node start --config "$DIR/node$i/node.toml" >"$DIR/node$i.log" 2>&1 &
  pids+=($!)
done
echo "network in $DIR (admin keys in $DIR/keys, logs in $DIR/node*.log)"
echo "clients trust its CA: export PHR_CA=$DIR/ca.pem"
for i in $(seq 0 $((NODES - 1))); do
  url=""
  for _ in $(seq 1 600); do
    url=$(grep -Eo 'serving https?://[0-9.:]*' "$DIR/node$i.log" 2>/dev/null | cut -d' ' -f2 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "node$i did not start; see $DIR/node$i.log" >&2; cleanup; exit 1; }
  echo "node$i  $url"
done
sleep 2
leader=$("$PHR_BIN" status --ca "$DIR/ca.pem" --node "$(grep -Eo 'serving https?://[0-9.:]*' "$DIR/node0.log" | cut -d' ' -f2)" | python3 -c 'import sys,json; print(json.load(sys.stdin)["raft"]["leader"])')
echo "leader: $leader"
echo "Ctrl-C stops the network."
wait
