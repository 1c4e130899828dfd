#!/usr/bin/env bash
# bench/windows/run.sh: IcmpTools on Windows (under Wine) against what a Windows scripter has today.
#
#   bash bench/windows/run.sh        (root; after 'dotnet tool restore')
#
# In the Windows PowerShell host of tests/windows, in a fresh Wine prefix: a loopback /20 in a namespace
# with only loopback, and a lab /24 (tests/netlab's sweep block, every address answers) from the lab's
# client namespace. Per block: Invoke-IcmpMultiPing over raw Winsock and over iphlpapi, a C# fan-out of
# Ping.SendPingAsync, Test-Connection (bench/windows/Sweep.ps1). Writes bench/results/windows-latest.md.
# Traffic stays on loopback and inside the lab; the namespaces are removed again, also on failure.
set -euo pipefail

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WINE_ROOT="$(cd "$HERE/../.." && pwd)"
readonly NETLAB="$WINE_ROOT/tests/netlab/netlab.sh"
readonly OUT="$WINE_ROOT/bench/results/windows-latest.md"
readonly REPEAT="${REPEAT:-3}"
readonly LOOPBACK_BLOCK=127.20.0.0/20 LAB_BLOCK=198.19.0.0/24
# shellcheck source=../../tests/windows/wine.sh
source "$WINE_ROOT/tests/windows/wine.sh"
# Test-Connection pings one target at a time: bound each host run well above what it needs.
WINE_RUN_TIMEOUT=1800

LAB="" LONS=""
cleanup() {
    local rc=$?
    wine_prefix_down
    if [[ -n "$LAB" ]]; then "$NETLAB" down "$LAB" || true; fi
    if [[ -n "$LONS" ]]; then ip netns delete "$LONS" || true; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dotnet build "$WINE_ROOT/src/IcmpTools/IcmpTools.csproj" -c Release --nologo -v quiet
wine_prefix_up
wine_host_publish

mkdir -p "$(dirname "$OUT")"
{
    echo "Windows sweep under Wine ($(date -u +%F), $(nproc) cores, REPEAT=$REPEAT, medians; Test-Connection once)"
    echo
    echo "| block | tool | wall (median) | vs IcmpTools raw | runs (ms) | alive |"
    echo "|---|---|---:|---:|---|---|"
} >"$OUT"

# A host run that fails is run again, twice at most, and says so under the table: the C# fan-out's 4,094
# concurrent Ping.SendPingAsync calls now and then fault inside Wine's ntdll (its heap code, a write near address 0;
# seen with no IcmpTools code in the process), which ends the whole host (tests/windows/wine.sh's debugger setting).
NOTES=()
sweep() {   # BLOCK
    local attempt rc rows
    for attempt in 1 2 3; do
        rows="$(mktemp "${TMPDIR:-/tmp}/iwb-rows.XXXXXX")"
        rc=0
        wine_host "sweep $1 (attempt $attempt)" "$(winpath "$HERE/Sweep.ps1")" \
            -ModuleManifest "$(winpath "$WINE_ROOT/out/IcmpTools/IcmpTools.psd1")" -Block "$1" \
            -OutFile "$(winpath "$rows")" -Repeat "$REPEAT" || rc=$?
        if (( rc == 0 )); then
            cat "$rows" >>"$OUT"
            rm -f "$rows"
            return 0
        fi
        NOTES+=("$1, attempt $attempt: the Windows host ended with exit code $rc after $(wc -l <"$rows") of 4 rows (discarded).")
        rm -f "$rows"
    done
    return 1
}

LONS="${ICMPTOOLS_LAB_PREFIX:-iwb}$$-lo$RANDOM"
ip netns add "$LONS"
ip -n "$LONS" link set lo up
NETNS="$LONS" sweep "$LOOPBACK_BLOCK"

LAB="${ICMPTOOLS_LAB_PREFIX:-iwb}$$-$RANDOM"
"$NETLAB" up "$LAB" >/dev/null
NETNS="$LAB-c" sweep "$LAB_BLOCK"

if (( ${#NOTES[@]} )); then
    { echo; for note in "${NOTES[@]}"; do echo "- $note"; done; } >>"$OUT"
fi
echo
cat "$OUT"
