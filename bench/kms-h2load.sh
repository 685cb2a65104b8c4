#!/usr/bin/env bash
# Load test of trousseaud's KMS v2 Encrypt with h2load (Debian package nghttp2-client) over the plugin's Unix
# socket, on the embedded default (local key ring).
#
# Usage: bench/kms-h2load.sh [-n requests] [-c clients] [-m streams] [-r rounds] [-w warm-up] ['[VAR=value ...] tree [argument ...]' ...]
#
# Each tree (a checkout of this repository; this one when none is named) is built in Release and its trousseaud
# started, with the environment variables that come before the tree and the arguments that follow it in the same word,
# e.g. '/tmp/main --Trousseau:Audit:Path=-' or 'DOTNET_gcServer=0 /tmp/main'. With TROUSSEAUD_BUILD=native among the
# variables, the tree's trousseaud is published as a native executable (Native AOT) and that one is started; with
# TROUSSEAUD_BUILD=peer, the tree's bench/KmsPeer is started instead: a bare KMS v2 plugin on grpc-dotnet doing the same
# AES-GCM wrap, which shows what the library alone costs per call. All of them run side by side and idle
# while another is measured: each round measures every tree once, the order turning round by round, so that the other
# work on the machine weighs on all of them alike. The last lines give each tree's median req/s and server CPU time per
# call and, from one more run with h2load's per-request log, its latency percentiles.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=200000 clients=4 streams=16 rounds=3 warmup=100000
while getopts n:c:m:r:w: option; do
  case $option in
    n) requests=$OPTARG ;; c) clients=$OPTARG ;; m) streams=$OPTARG ;; r) rounds=$OPTARG ;; w) warmup=$OPTARG ;;
    *) echo "usage: $0 [-n requests] [-c clients] [-m streams] [-r rounds] [-w warm-up] ['[VAR=value ...] tree [argument ...]' ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
trees=("$@")
[[ ${#trees[@]} -gt 0 ]] || trees=("$PWD")
command -v h2load >/dev/null || { echo "kms-h2load.sh: install h2load (apt-get install nghttp2-client)" >&2; exit 1; }

work=$(mktemp -d)
servers=()
trap 'for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# One gRPC frame: uncompressed, 34-byte message = EncryptRequest{plaintext (field 1) = 32 bytes, a DEK's size}.
{ printf '\x00\x00\x00\x00\x22\x0a\x20'; head -c 32 /dev/urandom; } >"$work/encrypt.bin"
url=http://localhost/v2.KeyManagementService/Encrypt
load() { # socket, requests, extra h2load arguments...
  local socket=$1 count=$2
  shift 2
  h2load -n "$count" -c "$clients" -m "$streams" "$@" -B "unix:$socket" -d "$work/encrypt.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' "$url"
}

for i in "${!trees[@]}"; do
  read -r -a words <<<"${trees[$i]}"
  variables=()
  while [[ ${words[0]} == *=* ]]; do variables+=("${words[0]}"); words=("${words[@]:1}"); done
  tree=$(cd "${words[0]}" && pwd)
  arguments=("${words[@]:1}")
  data="$work/$i"
  mkdir "$data"
  if [[ " ${variables[*]} " == *" TROUSSEAUD_BUILD=native "* ]]; then
    build=(dotnet publish "$tree/src/Trousseau.Server" -c Release -r linux-x64 -o "$data/bin" -nologo -v q)
    program=("$data/bin/trousseaud")
  elif [[ " ${variables[*]} " == *" TROUSSEAUD_BUILD=peer "* ]]; then
    build=(dotnet build "$tree/bench/KmsPeer" -c Release -nologo -v q)
    program=(dotnet "$tree/bench/KmsPeer/bin/Release/net10.0/KmsPeer.dll" --socket "$data/kms.sock")
  else
    build=(dotnet build "$tree/src/Trousseau.Server" -c Release -nologo -v q)
    program=(dotnet "$tree/src/Trousseau.Server/bin/Release/net10.0/trousseaud.dll")
  fi
  "${build[@]}" >"$data/build.log" 2>&1 || { echo "kms-h2load.sh: $tree: ${build[*]} failed:" >&2; cat "$data/build.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  [[ ${program[1]-} == */KmsPeer.dll ]] || program+=(--data-dir "$data" --urls "http://127.0.0.1:$port")
  env Logging__LogLevel__Default=Warning "${variables[@]}" "${program[@]}" "${arguments[@]}" >"$data/server.log" 2>&1 &
  servers+=($!)
  until [[ -S "$data/kms.sock" ]]; do sleep 0.1; done

  # h2load counts HTTP statuses only, and a gRPC error is HTTP 200 too: check one answer's trailer and frame first.
  curl -s --http2-prior-knowledge --unix-socket "$data/kms.sock" -H 'content-type: application/grpc' -H 'te: trailers' \
    --data-binary @"$work/encrypt.bin" -o "$data/answer.bin" -D - "$url" |
    grep -q '^grpc-status: 0' || { echo "kms-h2load.sh: $tree: Encrypt did not answer grpc-status 0" >&2; exit 1; }
  [[ $(head -c 1 "$data/answer.bin" | od -An -tx1 | tr -d ' ') == 00 && $(stat -c %s "$data/answer.bin") -gt 40 ]] ||
    { echo "kms-h2load.sh: $tree: Encrypt's answer holds no ciphertext frame" >&2; exit 1; }
  echo "tree $i: ${variables[*]:+${variables[*]} }$tree ($(git -C "$tree" rev-parse --short HEAD))${arguments[*]:+ ${arguments[*]}}: Encrypt answers grpc-status 0 with a $(($(stat -c %s "$data/answer.bin") - 5))-byte EncryptResponse"
  load "$data/kms.sock" "$warmup" >/dev/null
done

# The server's own CPU time (user + system, from /proc/PID/stat) per call: steadier than req/s on a shared machine.
source bench/rounds.sh

count=${#trees[@]}
for round in $(seq 1 "$rounds"); do
  echo "== round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for turn in $(seq 0 $((count - 1))); do
    i=$(((round - 1 + turn) % count))
    before=$(cpu "$i")
    result=$(load "$work/$i/kms.sock" "$requests")
    used=$(($(cpu "$i") - before))
    grep -q "succeeded, 0 failed, 0 errored" <<<"$result" || { echo "kms-h2load.sh: tree $i: failed requests" >&2; echo "$result" >&2; exit 1; }
    rate=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$result")
    echo "$rate" >>"$work/$i/rates"
    percall=$(awk -v used="$used" -v ticks="$ticks" -v n="$requests" 'BEGIN { printf "%.2f", used / ticks / n * 1e6 }')
    echo "$percall" >>"$work/$i/cpu"
    echo "tree $i: $rate req/s, $percall µs CPU per call"
  done
done

# Writing the per-request log slows h2load itself, so latency percentiles come from a run of their own.
for i in "${!trees[@]}"; do
  load "$work/$i/kms.sock" "$requests" --log-file="$work/$i/requests.tsv" >/dev/null
  sort -n -k3 "$work/$i/requests.tsv" | awk -v tree="$i" -v rate="$(median "$work/$i/rates")" -v cpu="$(median "$work/$i/cpu")" '{ t[NR] = $3 } END {
    printf "tree %s: median %.0f req/s, %.2f µs CPU per call; latency p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n", tree, rate, cpu, t[int(NR*0.5)]/1000, t[int(NR*0.99)]/1000, t[int(NR*0.999)]/1000 }'
done
