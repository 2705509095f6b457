#!/usr/bin/env bash
# The benchmarks, reported as ratios measured in one run on this machine:
#  (a) contract calls/s through the VM against the same contract logic compiled natively;
#  (b) signed transactions/s committed, and submit-to-commit latency, on networks of 1, 3 and 5
#      nodes, against single-core k256 verifications/s;
#  (c) audit replay of a chain of --replay-txs (default 100000) transactions, against k256
#      verifications/s on both cores (replay checks signatures on every core);
#  (d) the cost of security: signed queries/s against the same query with a session token;
#      committed tx/s on 3 nodes with and without TLS on every link; committed tx/s on 3 nodes
#      while a flood of heavy requests hits one node, as a fraction of the figure without it;
#  (e) the gateway on 3 nodes: records saved and fetched per second (each anchored or logged on
#      chain; fetches forwarded to the holder) for 10 KiB and 1 MiB, with p50/p99 latency; the
#      time and size of a backup of the chain of (c).
# Options: --txs N (default 20000) for (b), --replay-txs N for (c). Results also go to $CARGO_TARGET_DIR/bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
TXS=20000
REPLAY_TXS=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --txs) TXS="$2"; shift 2 ;;
    --replay-txs) REPLAY_TXS="$2"; shift 2 ;;
    *) echo "usage: scripts/bench.sh [--txs N] [--replay-txs N]" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p phr-node --bin phr
echo "== (a) contract calls: VM against native (criterion)" >&2
calls=$(cargo bench --locked -p phr-executor --bench contract_call -- --output-format bencher 2>/dev/null | grep '^test ')
echo "$calls" >&2
echo "== (b) committed transactions on 1, 3 and 5 nodes" >&2
tput="["
for n in 1 3 5; do
  tput+=$(PHR_LOG=error,openraft=off "$PHR_BIN" bench --nodes "$n" --txs "$TXS" --json)
  [ "$n" != 5 ] && tput+=","
done
tput+="]"
echo "== (d) signed against session-token queries; 3 nodes without TLS; 3 nodes under a query flood" >&2
auth=$(PHR_LOG=error,openraft=off "$PHR_BIN" bench --auth-cost 10)
plain=$(PHR_LOG=error,openraft=off "$PHR_BIN" bench --nodes 3 --txs "$TXS" --plain --json)
flood=$(PHR_LOG=error,openraft=off "$PHR_BIN" bench --nodes 3 --txs "$TXS" --flood 32 --json)
echo "== (e) the gateway: records saved and fetched on 3 nodes" >&2
gateway=$(PHR_LOG=error,openraft=off "$PHR_BIN" bench --gateway --json)
echo "== (c) audit replay of a chain of $REPLAY_TXS transactions" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PHR_LOG=error,openraft=off "$PHR_BIN" bench --nodes 1 --txs "$REPLAY_TXS" --keep "$work/net" --json >/dev/null
k256_2=$("$PHR_BIN" bench --k256-threads 2)
replay=$("$PHR_BIN" audit replay --data "$work/net/node0/data" --genesis "$work/net/genesis.json" --json)
echo "== (e) a backup of that chain" >&2
backup=$(PHR_LOG=error,openraft=off "$PHR_BIN" bench --backup-of "$work/net")

python3 - "$calls" "$tput" "$CARGO_TARGET_DIR/bench-results.json" "$replay" "$k256_2" "$auth" "$plain" "$flood" "$gateway" "$backup" <<'PY'
import json, re, sys
calls, runs, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
replay, k256_2 = json.loads(sys.argv[4]), json.loads(sys.argv[5])
auth, plain, flood = json.loads(sys.argv[6]), json.loads(sys.argv[7]), json.loads(sys.argv[8])
gateway, backup = json.loads(sys.argv[9]), json.loads(sys.argv[10])
ns = {m.group(1): int(m.group(2).replace(',', '')) for m in re.finditer(r'^test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter', calls, re.M)}
print("\nPHR Ledger benchmarks (one run, this machine)\n")
print("(a) contract calls per second")
print(f"  {'call':<24}{'native':>12}{'VM, memory':>14}{'VM, RocksDB':>14}{'VM/native':>12}")
rows = {}
for call in ("consent.evaluate", "record-anchor.anchor"):
    n, v, r = ns.get(f"{call}/native"), ns.get(f"{call}/vm-memory"), ns.get(f"{call}/vm-rocksdb")
    fmt = lambda x: f"{1e9/x:,.0f}/s" if x else "-"
    ratio = f"{v/n:.1f}x slower" if n and v else "-"
    print(f"  {call:<24}{fmt(n):>12}{fmt(v):>14}{fmt(r):>14}{ratio:>12}")
    rows[call] = {"native_ns": n, "vm_memory_ns": v, "vm_rocksdb_ns": r}
print("\n(b) signed transactions committed (every node executes every block; all on this machine)")
print(f"  {'nodes':>5}{'tx/s':>9}{'p50':>9}{'p99':>9}{'k256/s (1 core)':>17}{'tx/s ÷ k256/s':>15}{'failed':>8}")
for t in runs:
    print(f"  {t['nodes']:>5}{t['tx_per_s']:>9,.0f}{t['latency_ms']['p50']:>7.0f}ms{t['latency_ms']['p99']:>7.0f}ms"
          f"{t['k256_verify_per_s_one_core']:>17,.0f}{t['fraction_of_one_core_verify_rate']:>15.2f}{t['failed']:>8}")
print("  (reference: Fabric 2.5 with a Raft orderer commits about 2,950 tx/s at 0.33 s average latency"
      " on three bare-metal servers)")
print("\n(c) audit replay from a data directory (fresh state, every receipt and root compared)")
ok = "matches" if replay["divergence"] is None else "DIVERGED"
rate, k = replay["tx_per_s"], k256_2["k256_verify_per_s"]
print(f"  {replay['txs']:,} transactions in {replay['replay_seconds']:.1f} s: {rate:,.0f} tx/s ({ok}; "
      f"whole-state comparison adds {replay['seconds'] - replay['replay_seconds']:.1f} s)")
print(f"  k256 verifications on 2 cores: {k:,.0f}/s   replay ÷ k256 = {rate / k:.2f}")
tls3 = next(t for t in runs if t["nodes"] == 3)
print("\n(d) the cost of security (same run)")
print(f"  signed queries: {auth['signed_queries_per_s']:,.0f}/s; with a session token: {auth['session_queries_per_s']:,.0f}/s;"
      f" signed ÷ session = {auth['signed_over_session']:.2f}")
print(f"  3 nodes, TLS on every link: {tls3['tx_per_s']:,.0f} tx/s; plain HTTP: {plain['tx_per_s']:,.0f} tx/s;"
      f" TLS ÷ plain = {tls3['tx_per_s'] / plain['tx_per_s']:.2f}")
print(f"  3 nodes under a flood of {flood['flood_in_flight']} heavy requests at node0: {flood['tx_per_s']:,.0f} tx/s"
      f" = {flood['tx_per_s'] / tls3['tx_per_s']:.2f} of the figure without it; flood answers by status {flood['flood_answers_by_status']}")
print("\n(e) the gateway on 3 nodes (saves through the holder; fetches forwarded to it, each disclosure committed first)")
print(f"  {'record':<8}{'saves/s':>9}{'MiB/s':>8}{'p50':>8}{'p99':>8}{'fetches/s':>11}{'MiB/s':>8}{'p50':>8}{'p99':>8}")
for label, g in gateway["sizes"].items():
    s, f = g["saves"], g["fetches"]
    print(f"  {label:<8}{s['per_s']:>9,.0f}{s['mib_per_s']:>8.1f}{s['p50_ms']:>6.0f}ms{s['p99_ms']:>6.0f}ms"
          f"{f['per_s']:>11,.0f}{f['mib_per_s']:>8.1f}{f['p50_ms']:>6.0f}ms{f['p99_ms']:>6.0f}ms")
print(f"  backup of the chain of (c) (height {backup['height']:,}, node running): {backup['seconds']:.2f} s,"
      f" {backup['bytes'] / 2**20:,.1f} MiB in {backup['files']} files")
json.dump({"contract_calls": rows, "throughput": runs, "gateway": gateway, "backup": backup,
           "security": {"auth": auth, "plain_3_nodes": plain, "flood_3_nodes": flood,
                        "tls_over_plain": tls3["tx_per_s"] / plain["tx_per_s"],
                        "flood_fraction": flood["tx_per_s"] / tls3["tx_per_s"]},
           "replay": {"txs": replay["txs"], "tx_per_s": rate, "seconds": replay["replay_seconds"],
                      "k256_verify_per_s_two_cores": k, "fraction": rate / k, "matched": replay["divergence"] is None}},
          open(out, "w"), indent=2)
print(f"\nresults: {out}")
PY
