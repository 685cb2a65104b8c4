#!/usr/bin/env bash
# Load test of trousseaud's HTTP API with wrk (Debian package `wrk`): GET /v1/secrets/{name} beside /healthz,
# on the same server in the same run. Usage: bench/api-wrk.sh [seconds] [connections] [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
connections=${2:-32}
threads=${3:-2}
command -v wrk >/dev/null || { echo "api-wrk.sh: install wrk (apt-get install wrk)" >&2; exit 1; }

dotnet build src/Trousseau.Server -c Release -nologo -v q >/dev/null
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
Logging__LogLevel__Default=Warning dotnet src/Trousseau.Server/bin/Release/net10.0/trousseaud.dll --data-dir "$data" --urls "$url" ${TROUSSEAUD_ARGS:-} >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf "$url/healthz" >/dev/null; do sleep 0.1; done

auth="Authorization: Bearer $(cat "$data/api.token")"
value=$(head -c 768 /dev/urandom | base64 -w0)
curl -sf -H "$auth" -H 'Content-Type: application/json' \
  -d "{\"name\":\"bench/db\",\"type\":\"opaque\",\"data\":{\"value\":\"$value\"}}" "$url/v1/secrets" >/dev/null

run() { wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$@" | awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print rps, "req/s  p50", p50, " p99", p99}'; }
wrk -t"$threads" -c"$connections" -d3s -H "$auth" "$url/v1/secrets/bench/db" >/dev/null
wrk -t"$threads" -c"$connections" -d3s "$url/healthz" >/dev/null

echo "== GET /healthz"; health=$(run "$url/healthz"); echo "$health"
echo "== GET /v1/secrets/bench/db (1 KiB value)"; secret=$(run -H "$auth" "$url/v1/secrets/bench/db"); echo "$secret"
ratio=$(awk -v s="${secret%% *}" -v h="${health%% *}" 'BEGIN { printf "%.2f", s / h }')
echo "secret reads / healthz = $ratio (goal >= 0.70)"
