#!/usr/bin/env bash
# Start time of AddTrousseauSecrets over the remote client: 1,000 and then 5,000 secrets under a prefix of a
# trousseaud on the embedded default (SQLite), loaded by a new process each time, which prints how long the first
# load took and the requests it made. Each round measures the loads as they are, then with each request held
# [delay] ms (default 1) before it is sent, as a broker on another host would be.
# Usage: bench/config-start.sh [rounds] [baseline tree] [delay]
# A baseline tree (another checkout of the repository, for example `git archive main | tar -x -C /tmp/base`) is
# measured in the same run, in turn with this one: this benchmark project is copied into it and built against its
# libraries. trousseaud is this tree's, for both.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
baseline=${2:-}
delay=${3:-1}

work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Builds the benchmark project against the libraries of tree $1 into directory $2.
build() {
  local project=bench/Trousseau.Benchmarks
  if [ "$1" != . ]; then
    rm -rf "$1/bench/Trousseau.Benchmarks.config"
    cp -r bench/Trousseau.Benchmarks "$1/bench/Trousseau.Benchmarks.config"
    rm -rf "$1/bench/Trousseau.Benchmarks.config/bin" "$1/bench/Trousseau.Benchmarks.config/obj"
    project="$1/bench/Trousseau.Benchmarks.config"
  fi
  dotnet build "$project" -c Release -nologo -v q -o "$2" >/dev/null
}

dotnet build src/Trousseau.Server -c Release -nologo -v q >/dev/null
trees=(.)
[ -n "$baseline" ] && trees=("$baseline" .)
for i in "${!trees[@]}"; do build "${trees[$i]}" "$work/probe-$i"; done

port=$(free_port)
server="http://127.0.0.1:$port"
dotnet src/Trousseau.Server/bin/Release/net10.0/trousseaud.dll --urls "$server" --data-dir "$work/data" \
  --Trousseau:Kms:Enabled=false --Trousseau:Audit:Path="$work/audit.log" >"$work/server.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$server/healthz"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
token="$work/data/api.token"
for count in 1000 5000; do
  dotnet "$work/probe-$((${#trees[@]} - 1))/Trousseau.Benchmarks.dll" config seed --server "$server" --token-file "$token" --prefix "cfg$count/" --count "$count"
done

for ((round = 1; round <= rounds; round++)); do
  for held in 0 "$delay"; do
    for count in 1000 5000; do
      for i in "${!trees[@]}"; do
        printf '%-28s round %d, %2s ms held, %5d secrets: ' "$([ "${trees[$i]}" = . ] && echo this tree || echo "baseline ${trees[$i]}")" "$round" "$held" "$count"
        dotnet "$work/probe-$i/Trousseau.Benchmarks.dll" config --server "$server" --token-file "$token" --prefix "cfg$count/" --polls 0 --delay-ms "$held"
      done
    done
  done
done
