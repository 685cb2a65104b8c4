#!/usr/bin/env bash
# Runs every Trousseau test: installs the test prerequisites it can (Debian packages, when root), builds the
# solution with warnings as errors, publishes trousseaud and clectl as the native (Native AOT) executables users deploy,
# then runs each test project, the integration tests against those executables.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || missing+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || missing+=(python3-protobuf)
# The first-hour test runs the README's and the samples' commands, which use curl.
command -v curl >/dev/null 2>&1 || missing+=(curl)
# clectl's completion scripts are tested in the shells they are for.
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
# The key ring durability test watches its fsync calls with strace.
command -v strace >/dev/null 2>&1 || missing+=(strace)
# The data directory backup test runs the reference's commands, which use sqlite3.
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
# The manifest tests render deploy/kms and deploy/broker with kubectl kustomize.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
# Native AOT compiles trousseaud with clang and links it against zlib.
command -v clang >/dev/null 2>&1 || missing+=(clang)
[[ -e /usr/include/zlib.h ]] || missing+=(zlib1g-dev)

if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing ${missing[*]}; install them (Debian packages) or the tests that need them skip" >&2
  fi
fi

configuration=${CONFIGURATION:-Debug}
dotnet build Trousseau.sln -c "$configuration" -nologo -v q
if command -v clang >/dev/null 2>&1 && [[ -e /usr/include/zlib.h ]]; then
  dotnet publish src/Trousseau.Server -c Release -o artifacts/test/trousseaud -nologo -v q
  dotnet publish src/Trousseau.Cli -c Release -o artifacts/test/clectl -nologo -v q
  export TROUSSEAU_TEST_TROUSSEAUD=$PWD/artifacts/test/trousseaud/trousseaud
  export TROUSSEAU_TEST_CLECTL=$PWD/artifacts/test/clectl/clectl
else
  echo "test.sh: without clang and zlib1g-dev the integration tests start trousseaud.dll and clectl.dll, not the native executables" >&2
fi
status=0
for project in tests/Unit/Trousseau.Tests.Unit.csproj tests/Integration/Trousseau.Tests.Integration.csproj; do
  echo "test.sh: $project"
  # A test that hangs ends the run after 10 minutes, naming the test, instead of holding it until CI gives up.
  dotnet test "$project" -c "$configuration" --no-build -nologo --blame-hang-timeout 10m --blame-hang-dump-type none || status=1
done
exit $status
