#!/usr/bin/env bash
# Time to a first answer, and memory, of trousseaud built two ways: the framework-dependent build (dotnet
# trousseaud.dll) and the native executable (Native AOT). Each start gets a fresh data directory on the embedded
# default (a new key ring, a new SQLite store); the time runs from the exec to the first 200 from /healthz.
# Usage: bench/startup.sh [ROUNDS]      needs clang and zlib1g-dev for the native build
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet build src/Trousseau.Server -c Release -nologo -v q >/dev/null
dotnet publish src/Trousseau.Server -c Release -r linux-x64 -o "$work/native" -nologo -v q >/dev/null
jit=(dotnet "$PWD/src/Trousseau.Server/bin/Release/net10.0/trousseaud.dll")
native=("$work/native/trousseaud")

# Starts one build, waits for /healthz, sends one secret through the API, and prints milliseconds to the first
# answer, then the resident set size in MiB after that call.
start_once() {
  local port=$((20000 + RANDOM % 20000)) data="$work/data-$RANDOM"
  local begin=$(date +%s%N)
  "$@" --urls "http://127.0.0.1:$port" --data-dir "$data" >"$work/log" 2>&1 &
  local pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.005
  done
  local ready=$(( ($(date +%s%N) - begin) / 1000000 ))
  curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$data/api.token")" -H 'Content-Type: application/json' \
    -d '{"name":"bench/startup","data":{"k":"v"}}' "http://127.0.0.1:$port/v1/secrets"
  local rss=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
  echo "$ready $rss"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for build in jit native; do : >"$work/$build.txt"; done
for ((i = 0; i < rounds; i++)); do
  start_once "${jit[@]}" >>"$work/jit.txt"
  start_once "${native[@]}" >>"$work/native.txt"
done
printf '%-8s %22s %18s\n' build "to /healthz, ms (p50)" "RSS, MiB (p50)"
for build in jit native; do
  printf '%-8s %22s %18s\n' "$build" "$(cut -d' ' -f1 "$work/$build.txt" | median)" "$(cut -d' ' -f2 "$work/$build.txt" | median)"
done
printf 'native executable: %s MiB\n' "$(du -m "$work/native/trousseaud" | cut -f1)"
