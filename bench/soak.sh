#!/usr/bin/env bash
# Chaos soak: trousseaud (KMS socket and HTTP API) on the Vault test server and a 3-member etcd, under mixed load
# while a fault script breaks Vault, etcd and trousseaud itself. Needs the Debian packages etcd-server and
# python3-grpcio. Usage: bench/soak.sh [seconds]   (600 by default; TROUSSEAU_SOAK_SEED=N replays a fault order)
# Prints the summary; it and each trousseaud process's log stay in artifacts/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
output=$PWD/artifacts/soak
command -v etcd >/dev/null || { echo "soak.sh: install etcd (apt-get install etcd-server)" >&2; exit 1; }
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null ||
  { echo "soak.sh: install python3-grpcio and python3-protobuf (apt-get install python3-grpcio python3-protobuf)" >&2; exit 1; }

dotnet build Trousseau.sln -c Release -nologo -v q >/dev/null
rm -rf "$output"
mkdir -p "$output"
status=0
TROUSSEAU_SOAK_SECONDS=$seconds TROUSSEAU_SOAK_OUTPUT=$output \
  dotnet test tests/Integration/Trousseau.Tests.Integration.csproj -c Release --no-build -nologo \
  --filter "Category=Soak" >"$output/dotnet-test.log" 2>&1 || status=$?
grep -E '^(Passed|Failed|Skipped)!' "$output/dotnet-test.log" || tail -n 40 "$output/dotnet-test.log"
if [[ -f $output/soak-summary.md ]]; then
  cat "$output/soak-summary.md"
  echo "soak.sh: summary, test output and trousseaud logs in $output"
else
  echo "soak.sh: no summary was written; see $output/dotnet-test.log" >&2
  status=1
fi
exit $status
