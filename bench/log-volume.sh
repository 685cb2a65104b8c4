#!/usr/bin/env bash
# Lines trousseaud logs in 60 s, at its default log levels, while Vault cannot be reached and /readyz is asked once
# a second (as a kubelet probe would, only more often).
# Usage: bench/log-volume.sh PATH/TO/trousseaud.dll [PORT]
set -euo pipefail
dll=$(realpath "$1")
port=${2:-18787}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
timeout 60 dotnet "$dll" --urls "http://127.0.0.1:$port" --data-dir "$dir/data" \
  --Trousseau:KeyProvider=vault --Trousseau:Vault:Address=http://127.0.0.1:1 --Trousseau:Vault:Auth:Token=unused \
  > "$dir/log" 2>&1 &
for _ in $(seq 1 58); do
  sleep 1
  curl -s -o /dev/null "http://127.0.0.1:$port/readyz" || true
done
wait || true
echo "$(wc -l < "$dir/log") lines, $(grep -c '^ *at ' "$dir/log" || true) stack-trace lines, $(grep -c '^warn' "$dir/log" || true) warnings"
