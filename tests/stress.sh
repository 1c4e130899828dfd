#!/usr/bin/env bash
# stress.sh RUNS: run the engine and cmdlet tests RUNS times in a row (default 20) while stress-ng keeps
# both cores busy, and stop at the first failure. Proves the suite does not depend on the machine's speed.
# Bounded: stress-ng stops by itself after the time budget, and each run has a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
command -v stress-ng >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends stress-ng; }
dotnet build IcmpTools.sln -c Release -v q -nologo >/dev/null
stress-ng --cpu "$(nproc)" --timeout "$((runs * 240))s" --quiet &
load=$!
trap 'kill "$load" 2>/dev/null || true' EXIT
for i in $(seq 1 "$runs"); do
    for project in tests/IcmpTools.Engine.Tests tests/IcmpTools.Tests; do
        if ! timeout 900 dotnet test "$project" -c Release --no-build -v q -nologo >"/tmp/stress-$i-$(basename "$project").log" 2>&1; then
            echo "run $i: $project FAILED (log: /tmp/stress-$i-$(basename "$project").log)"
            exit 1
        fi
    done
    echo "run $i: passed ($(grep -h -o 'Passed: *[0-9]*' /tmp/stress-"$i"-*.log | tr '\n' ' '))"
done
echo "$runs of $runs runs passed under stress-ng --cpu $(nproc)"
