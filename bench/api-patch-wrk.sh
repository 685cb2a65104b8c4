#!/usr/bin/env bash
# Load test of trousseaud's PATCH /v1/secrets/{name} with wrk (Debian package `wrk`): each request sets one key to a
# new value and removes a key the secret does not hold, so every request writes and answers Trousseau-Absent-Keys.
#
# Usage: bench/api-patch-wrk.sh [-d seconds] [-c connections] [-t threads] [-r rounds] [-s secrets] [-e etcd-url] [tree ...]
#
# Each tree (a copy of this repository; this one when none is named) is built in Release and its trousseaud started
# on the embedded default (local key ring, SQLite, token auth), or with -e on the etcd store at that endpoint under a
# prefix of its own, with secrets of its own, which the requests take in turn. All the servers run side by side and idle while another is measured: each round measures every tree once,
# the order turning round by round, so that the other work on the machine weighs on all of them alike. Each line gives
# req/s and the server's own CPU time per request (user + system, from /proc/PID/stat), which a shared machine
# disturbs less; the last lines give each tree's medians.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10 connections=32 threads=2 rounds=3 secrets=64 etcd=
while getopts d:c:t:r:s:e: option; do
  case $option in
    d) duration=$OPTARG ;; c) connections=$OPTARG ;; t) threads=$OPTARG ;; r) rounds=$OPTARG ;; s) secrets=$OPTARG ;; e) etcd=$OPTARG ;;
    *) echo "usage: $0 [-d seconds] [-c connections] [-t threads] [-r rounds] [-s secrets] [-e etcd-url] [tree ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
trees=("$@")
[[ ${#trees[@]} -gt 0 ]] || trees=("$PWD")
command -v wrk >/dev/null || { echo "api-patch-wrk.sh: install wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
servers=()
trap 'for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# Each wrk thread counts its own requests and starts at its own offset, so that the threads do not patch the same
# secret at the same moment.
cat >"$work/patch.lua" <<EOF
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) n = id * 7919 end
function request()
  n = n + 1
  local body = '{"data":{"value":"v' .. n .. '","gone":null}}'
  return wrk.format("PATCH", "/v1/secrets/bench/patch-" .. (n % $secrets), nil, body)
end
EOF

for i in "${!trees[@]}"; do
  tree=$(cd "${trees[$i]}" && pwd)
  data="$work/$i"
  mkdir "$data"
  dotnet build "$tree/src/Trousseau.Server" -c Release -nologo -v q >"$data/build.log" 2>&1 ||
    { echo "api-patch-wrk.sh: $tree: the build failed:" >&2; cat "$data/build.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  url="http://127.0.0.1:$port"
  store=()
  [[ -z $etcd ]] || store=(--Trousseau:Store=etcd "--Trousseau:Etcd:Endpoints:0=$etcd" "--Trousseau:Etcd:Prefix=/bench-patch-$(basename "$work")-$i/")
  Logging__LogLevel__Default=Warning dotnet "$tree/src/Trousseau.Server/bin/Release/net10.0/trousseaud.dll" \
    --data-dir "$data" --urls "$url" "${store[@]}" >"$data/server.log" 2>&1 &
  servers+=($!)
  until curl -sf "$url/healthz" >/dev/null; do sleep 0.1; done
  echo "$url" >"$data/url"
  auth="Authorization: Bearer $(cat "$data/api.token")"
  for s in $(seq 0 $((secrets - 1))); do
    curl -sf -H "$auth" -H 'Content-Type: application/json' \
      -d "{\"name\":\"bench/patch-$s\",\"type\":\"opaque\",\"data\":{\"value\":\"v0\",\"other\":\"kept\"}}" "$url/v1/secrets" >/dev/null
  done
  absent=$(curl -sf -o /dev/null -D - -X PATCH -H "$auth" -H 'Content-Type: application/merge-patch+json' \
    -d '{"data":{"value":"v1","gone":null}}' "$url/v1/secrets/bench/patch-0" | tr -d '\r' | sed -n 's/^trousseau-absent-keys: //Ip')
  [[ $absent == gone ]] || { echo "api-patch-wrk.sh: $tree: PATCH did not answer Trousseau-Absent-Keys: gone" >&2; exit 1; }
  echo "tree $i: $tree ($(git -C "$tree" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')): PATCH answers Trousseau-Absent-Keys: gone"
  wrk -t"$threads" -c"$connections" -d3s -H "$auth" -H 'Content-Type: application/merge-patch+json' -s "$work/patch.lua" "$url" >/dev/null
done

source bench/rounds.sh

count=${#trees[@]}
for round in $(seq 1 "$rounds"); do
  echo "== round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for turn in $(seq 0 $((count - 1))); do
    i=$(((round - 1 + turn) % count))
    auth="Authorization: Bearer $(cat "$work/$i/api.token")"
    before=$(cpu "$i")
    result=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -H "$auth" -H 'Content-Type: application/merge-patch+json' \
      -s "$work/patch.lua" "$(cat "$work/$i/url")")
    used=$(($(cpu "$i") - before))
    if grep -q 'Non-2xx' <<<"$result"; then echo "api-patch-wrk.sh: tree $i: some answers were not 2xx" >&2; echo "$result" >&2; exit 1; fi
    requests=$(awk '/requests in/ { print $1 }' <<<"$result")
    rate=$(awk '/Requests\/sec/ { print $2 }' <<<"$result")
    p50=$(awk '/^ +50%/ { print $2 }' <<<"$result")
    p99=$(awk '/^ +99%/ { print $2 }' <<<"$result")
    percall=$(awk -v used="$used" -v ticks="$ticks" -v n="$requests" 'BEGIN { printf "%.1f", used / ticks / n * 1e6 }')
    echo "$rate" >>"$work/$i/rates"
    echo "$percall" >>"$work/$i/cpu"
    echo "tree $i: $rate req/s, $percall µs CPU per request, p50 $p50, p99 $p99"
  done
done

for i in "${!trees[@]}"; do
  echo "tree $i: median $(median "$work/$i/rates") req/s, $(median "$work/$i/cpu") µs CPU per request"
done
