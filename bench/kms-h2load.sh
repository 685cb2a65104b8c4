#!/usr/bin/env bash
# Load test of trousseaud's KMS v2 Encrypt with h2load (Debian package nghttp2-client) over the plugin's Unix
# socket, on the embedded default (local key ring). Usage: bench/kms-h2load.sh [requests] [clients] [streams]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
clients=${2:-4}
streams=${3:-16}
command -v h2load >/dev/null || { echo "kms-h2load.sh: install h2load (apt-get install nghttp2-client)" >&2; exit 1; }

dotnet build src/Trousseau.Server -c Release -nologo -v q >/dev/null
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
Logging__LogLevel__Default=Warning dotnet src/Trousseau.Server/bin/Release/net10.0/trousseaud.dll --data-dir "$data" --urls "http://127.0.0.1:$port" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
until [[ -S "$data/kms.sock" ]]; do sleep 0.1; done

# One gRPC frame: uncompressed, 34-byte message = EncryptRequest{plaintext (field 1) = 32 bytes, a DEK's size}.
{ printf '\x00\x00\x00\x00\x22\x0a\x20'; head -c 32 /dev/urandom; } >"$data/encrypt.bin"
args=(-B "unix:$data/kms.sock" -d "$data/encrypt.bin" -H 'content-type: application/grpc' -H 'te: trailers'
      "http://localhost/v2.KeyManagementService/Encrypt")

# h2load counts HTTP statuses only, and a gRPC error is HTTP 200 too: check one answer's trailer and frame first.
curl -s --http2-prior-knowledge --unix-socket "$data/kms.sock" -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary @"$data/encrypt.bin" -o "$data/answer.bin" -D - http://localhost/v2.KeyManagementService/Encrypt |
  grep -q '^grpc-status: 0' || { echo "kms-h2load.sh: Encrypt did not answer grpc-status 0" >&2; exit 1; }
[[ $(head -c 1 "$data/answer.bin" | od -An -tx1 | tr -d ' ') == 00 && $(stat -c %s "$data/answer.bin") -gt 40 ]] ||
  { echo "kms-h2load.sh: Encrypt's answer holds no ciphertext frame" >&2; exit 1; }
echo "checked: Encrypt answers grpc-status 0 with a $(($(stat -c %s "$data/answer.bin") - 5))-byte EncryptResponse"

h2load -n 20000 -c "$clients" -m "$streams" "${args[@]}" >/dev/null
for run in 1 2 3; do
  echo "== throughput, run $run"
  h2load -n "$requests" -c "$clients" -m "$streams" "${args[@]}" | grep -E '^(finished in|requests:|status codes:)'
done
# Writing the per-request log slows h2load itself, so latency percentiles come from a second run.
echo "== latency"
h2load -n "$requests" -c "$clients" -m "$streams" --log-file="$data/requests.tsv" "${args[@]}" | grep -E '^finished in'
sort -n -k3 "$data/requests.tsv" | awk '{ t[NR] = $3 } END { printf "latency p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n", t[int(NR*0.5)]/1000, t[int(NR*0.99)]/1000, t[int(NR*0.999)]/1000 }'
