#!/usr/bin/env bash
# trousseaud with a large store: fills it through the API, restarts it (the worker checks every record at start, and
# then not for an hour, so that it starts no rewrap of its own), then measures the start, each listing page,
# `clectl secret list`, and a rotation and rewrap, with trousseaud's resident memory (RSS) around each step.
# Usage: bench/scale.sh [-s sqlite|etcd] [-n secrets] [-z value characters] [TREE...]
# Each TREE (default: this one) is a checkout of the repository, measured in turn on a store of its own; give an older
# one (`mkdir -p /tmp/base && git archive REV | tar -x -C /tmp/base`) to compare. Needs python3, and etcd for -s etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
store=sqlite count=50000 size=100
while getopts s:n:z: option; do
  case $option in
    s) store=$OPTARG ;;
    n) count=$OPTARG ;;
    z) size=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
trees=("${@:-.}")

work=$(mktemp -d)
server= etcd_pid=
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && while kill -0 "$1" 2>/dev/null; do sleep 0.1; done; return 0; }
trap 'stop "$server"; stop "$etcd_pid"; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Fills the store through the API: seed.py URL TOKEN COUNT SIZE.
cat >"$work/seed.py" <<'EOF'
import http.client, json, sys, threading, time
url, token, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host, port = url[len("http://"):].split(":")
value, threads, failed = "v" * size, 16, []
def seed(first):
    connection = http.client.HTTPConnection(host, int(port))
    for i in range(first, count, threads):
        body = json.dumps({"name": f"scale/{i:07d}", "type": "opaque", "data": {"value": value}})
        connection.request("POST", "/v1/secrets", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        answer = connection.getresponse(); answer.read()
        if answer.status != 201: failed.append(answer.status)
begin = time.time()
workers = [threading.Thread(target=seed, args=(t,)) for t in range(threads)]
[w.start() for w in workers]; [w.join() for w in workers]
print(f"  seeded through the API in {time.time() - begin:.1f} s, {len(failed)} failed {failed[:3]}")
EOF

# Lists every secret page by page, timing each page: pages.py URL TOKEN.
cat >"$work/pages.py" <<'EOF'
import http.client, json, sys, time, urllib.parse
url, token = sys.argv[1], sys.argv[2]
host, port = url[len("http://"):].split(":")
connection, cont, listed, times = http.client.HTTPConnection(host, int(port)), None, 0, []
while True:
    begin = time.time()
    connection.request("GET", "/v1/secrets?limit=500" + (f"&continue={urllib.parse.quote(cont)}" if cont else ""), headers={"Authorization": "Bearer " + token})
    page = json.loads(connection.getresponse().read()); times.append(1000 * (time.time() - begin))
    listed += len(page["items"]); cont = page.get("continue")
    if not cont: break
mean = lambda xs: sum(xs) / len(xs)
n = len(times)
print(f"  GET /v1/secrets: {listed} secrets in {n} pages of 500, {sum(times) / 1000:.2f} s; mean page {mean(times[:10]):.1f} ms (first 10), "
      f"{mean(times[n // 2 - 5:n // 2 + 5]):.1f} ms (middle 10), {mean(times[-10:]):.1f} ms (last 10)")
EOF

rss() { echo "$(($(awk '/VmRSS/ {print $2}' "/proc/$server/status") / 1024)) MiB"; }

# Runs a command while sampling trousseaud's RSS; prints the command's output, then the peak.
peak() {
  local max=0 now
  "$@" &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    now=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    [ "$now" -gt "$max" ] && max=$now
    sleep 0.05
  done
  wait $pid
  echo "  trousseaud RSS: peak $((max / 1024)) MiB, after $(rss)"
}

start() {
  local begin
  begin=$(date +%s%N)
  Logging__LogLevel__Default=Information dotnet "$bin/server/trousseaud.dll" --data-dir "$data" --urls "$url" --Trousseau:Worker:Interval=01:00:00 "${store_args[@]}" >"$data/server.log" 2>&1 &
  server=$!
  until curl -sf "$url/healthz" >/dev/null; do sleep 0.02; done
  echo "  first /healthz $((($(date +%s%N) - begin) / 1000000)) ms after exec, RSS $(rss)"
}

# clectl against the server under test, as a command that /usr/bin/time can run.
clectl() { env XDG_CONFIG_HOME="$data/xdg" TROUSSEAU_TOKEN="$(cat "$data/api.token")" dotnet "$bin/cli/clectl.dll" --server "$url" "$@"; }
timed_clectl() { /usr/bin/time -f "$1" env XDG_CONFIG_HOME="$data/xdg" TROUSSEAU_TOKEN="$(cat "$data/api.token")" dotnet "$bin/cli/clectl.dll" --server "$url" "${@:2}"; }

for tree in "${trees[@]}"; do
  bin="$work/bin-$RANDOM" data="$work/data-$RANDOM"
  mkdir -p "$bin" "$data"
  dotnet build "$tree/src/Trousseau.Server" -c Release -nologo -v q -o "$bin/server" >/dev/null
  dotnet build "$tree/src/Trousseau.Cli" -c Release -nologo -v q -o "$bin/cli" >/dev/null
  url="http://127.0.0.1:$(free_port)"
  store_args=()
  if [ "$store" = etcd ]; then
    client="http://127.0.0.1:$(free_port)" peer="http://127.0.0.1:$(free_port)"
    etcd --data-dir "$data/etcd" --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "default=$peer" \
      --log-level error >"$data/etcd.log" 2>&1 &
    etcd_pid=$!
    until curl -sf "$client/health" >/dev/null; do sleep 0.1; done
    store_args=(--Trousseau:Store=etcd "--Trousseau:Etcd:Endpoints:0=$client")
  fi

  echo "== $tree, $store, $count secrets of $size characters"
  start >/dev/null
  python3 "$work/seed.py" "$url" "$(cat "$data/api.token")" "$count" "$size"
  stop "$server"
  start
  until grep -q '\[1202\]' "$data/server.log"; do sleep 0.2; done
  echo "  once the worker's pass at start has checked every record: RSS $(rss)"

  peak python3 "$work/pages.py" "$url" "$(cat "$data/api.token")"
  for format in table json; do
    timed_clectl "  clectl secret list -o $format: %e s, clectl peak RSS %M KiB" secret list -o $format 2>&1 >/dev/null | tail -1
  done
  clectl key rotate >/dev/null
  peak timed_clectl "  clectl key rewrap: %e s" key rewrap
  stop "$server"
  server=
  stop "$etcd_pid"
  etcd_pid=
  rm -rf "$data"
done
