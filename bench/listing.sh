#!/usr/bin/env bash
# Time and peak RSS of a full listing (ITrousseau.ListSecretsAsync over every secret) on SQLite and on etcd, each
# listing in a process of its own. Usage: bench/listing.sh [secrets] [value characters] [baseline tree]
# A baseline tree (another checkout of the repository, for example `git archive main | tar -x -C /tmp/base`) is
# measured in the same run, before this one: this benchmark project is copied into it and built against its
# libraries. Needs etcd (Debian etcd-server).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
size=${2:-1024}
baseline=${3:-}
command -v etcd >/dev/null || { echo "listing.sh: install etcd (apt-get install etcd-server)" >&2; exit 1; }

work=$(mktemp -d)
etcd_pid=
trap '[ -n "$etcd_pid" ] && kill $etcd_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Builds the benchmark project against the libraries of tree $1 into directory $2.
build() {
  local project=bench/Trousseau.Benchmarks
  if [ "$1" != . ]; then
    rm -rf "$1/bench/Trousseau.Benchmarks.listing"
    cp -r bench/Trousseau.Benchmarks "$1/bench/Trousseau.Benchmarks.listing"
    rm -rf "$1/bench/Trousseau.Benchmarks.listing/bin" "$1/bench/Trousseau.Benchmarks.listing/obj"
    project="$1/bench/Trousseau.Benchmarks.listing"
  fi
  dotnet build "$project" -c Release -nologo -v q -o "$2" >/dev/null
}

# Seeds a fresh store with the build in $1, then lists it in a new process; $2 is sqlite or etcd.
measure() {
  local data="$work/data-$RANDOM" args=()
  mkdir -p "$data"
  if [ "$2" = etcd ]; then
    local client="http://127.0.0.1:$(free_port)" peer="http://127.0.0.1:$(free_port)"
    etcd --data-dir "$data/etcd" --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "default=$peer" \
      --log-level error >"$data/etcd.log" 2>&1 &
    etcd_pid=$!
    until curl -sf "$client/health" >/dev/null; do sleep 0.1; done
    args=(--etcd "$client/")
  fi
  dotnet "$1/Trousseau.Benchmarks.dll" listing seed --store "$2" --dir "$data" --count "$count" --size "$size" "${args[@]}"
  (dotnet "$1/Trousseau.Benchmarks.dll" listing list --store "$2" --dir "$data" "${args[@]}") 2>"$data/list.err" \
    || echo "listing failed: $(grep -m1 Exception "$data/list.err")"
  if [ -n "$etcd_pid" ]; then kill $etcd_pid; wait $etcd_pid 2>/dev/null || true; etcd_pid=; fi
  rm -rf "$data"
}

trees=(.)
[ -n "$baseline" ] && trees=("$baseline" .)
for tree in "${trees[@]}"; do
  out=$(mktemp -d -p "$work")
  build "$tree" "$out"
  for store in sqlite etcd; do
    echo "== $([ "$tree" = . ] && echo this tree || echo "baseline $tree"), $store, $count secrets of $size characters"
    measure "$out" "$store"
  done
done
