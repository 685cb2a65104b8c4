#!/usr/bin/env bash
# Sequential secret get and update latency through ITrousseau on the etcd store, against one single-member etcd on
# loopback (Debian package etcd-server), for two builds in alternating rounds: this tree's and another checkout's
# (for example the commit before a change). Usage: bench/etcd-latency.sh <other checkout> [rounds] [operations] [warm-up]
# Each round runs both builds, in turns of order, with [operations] gets and updates each after [warm-up] seconds
# (default 5) of gets and updates, and at least 200 of each: the optimized code a long-running process runs.
set -euo pipefail
cd "$(dirname "$0")/.."
other=${1:?usage: bench/etcd-latency.sh <other checkout> [rounds] [operations] [warm-up seconds]}
rounds=${2:-6}
operations=${3:-3000}
warmup=${4:-5}
command -v etcd >/dev/null || { echo "etcd-latency.sh: install etcd (apt-get install etcd-server)" >&2; exit 1; }

# The console lives in this tree; the other checkout gets a copy, so both measure the same loop on their own store.
rm -rf "$other/bench/EtcdLatency"
mkdir -p "$other/bench/EtcdLatency"
cp bench/EtcdLatency/EtcdLatency.csproj bench/EtcdLatency/Program.cs "$other/bench/EtcdLatency/"
dotnet build bench/EtcdLatency -c Release -nologo -v q >/dev/null
dotnet build "$other/bench/EtcdLatency" -c Release -nologo -v q >/dev/null

data=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
client="http://127.0.0.1:$(free_port)"
peer="http://127.0.0.1:$(free_port)"
etcd --data-dir "$data/etcd" --listen-client-urls "$client" --advertise-client-urls "$client" --listen-peer-urls "$peer" \
  --initial-advertise-peer-urls "$peer" --initial-cluster "default=$peer" --log-level error >"$data/etcd.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
until curl -sf "$client/health" >/dev/null; do sleep 0.1; done

run() { echo "$1 $(dotnet "$2/bench/EtcdLatency/bin/Release/net10.0/EtcdLatency.dll" "$client" "$operations" "$warmup")"; }
for round in $(seq 1 "$rounds"); do
  if (( round % 2 )); then run other "$other"; run this .; else run this .; run other "$other"; fi
done | tee "$data/rounds.txt"

echo "== median over the rounds (µs)"
python3 - "$data/rounds.txt" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for build in ("other", "this"):
    figures = [dict(f.split("=") for f in row[1:]) for row in rows if row[0] == build]
    keys = ("get_p50", "get_mean", "update_p50", "update_mean")
    print(build + ":", " ".join(f"{k}={statistics.median(float(f[k]) for f in figures):.0f}" for k in keys))
PY
