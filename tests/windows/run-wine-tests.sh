#!/usr/bin/env bash
# run-wine-tests.sh: the Windows half of the test run, under Wine (see README.md in this folder).
#
#   ICMPTOOLS_PESTER_MANIFEST=/path/to/Pester.psd1 tests/windows/run-wine-tests.sh
#
# Makes a fresh Wine prefix in a temporary folder, publishes the Windows PowerShell host once, runs
# the engine's Windows-transport tests (run-engine-tests.sh, when present) and the Pester files of
# tests/windows/Pester in that host: most in a namespace of its own with only loopback (127.0.0.0/8),
# *Unelevated files there too but without CAP_NET_RAW, *Lab files inside the client namespace of a lab
# of its own (tests/netlab). It removes its namespaces again, also on failure. Result files land in tests/windows/TestResults, where build.ps1 counts them.
# Needs root (the lab), wine64 (Debian), and 'dotnet tool restore' done (the host takes the in-box
# modules from the pinned pwsh tool). Exits non-zero when anything failed or did not run.
set -euo pipefail

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WINE_ROOT="$(cd "$HERE/../.." && pwd)"
readonly RESULTS="$HERE/TestResults"
readonly NETLAB="$WINE_ROOT/tests/netlab/netlab.sh"
# shellcheck source=wine.sh
source "$HERE/wine.sh"

die() { echo "run-wine-tests: $*" >&2; exit 1; }

[[ -n "${ICMPTOOLS_PESTER_MANIFEST:-}" && -f "$ICMPTOOLS_PESTER_MANIFEST" ]] \
    || die "set ICMPTOOLS_PESTER_MANIFEST to Pester.psd1 (build.ps1 -Test does)"
[[ -f "$WINE_ROOT/out/IcmpTools/IcmpTools.psd1" ]] || die "no module in out/IcmpTools: build first"
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

wine_prefix_up
wine_host_publish
# The harness first: a host that faults outside .NET must fail its run (wine.sh's debugger setting), not end with 0.
fault_rc=0
WINE_RUN_TIMEOUT=300 wine_host "a native fault (must fail)" "$(winpath "$HERE/NativeFault.ps1")" >/dev/null 2>&1 || fault_rc=$?
(( fault_rc != 0 && fault_rc != 124 )) \
    || die "a Windows program that faulted ended with exit code $fault_rc (0: unseen, 124: hung): Wine's debugger setting"
echo "wine: the faulting program failed its run as it must (exit code $fault_rc)"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
failed=0

if [[ -f "$HERE/run-engine-tests.sh" ]]; then
    # It takes this run's prefix (WINEPREFIX) and leaves its xunit XML beside the Pester results.
    bash "$HERE/run-engine-tests.sh" "$RESULTS" || failed=1
fi

# ICMPTOOLS_WIN_MODULE and the lab variables reach the Windows side through Wine's environment.
export ICMPTOOLS_WIN_MODULE="$(winpath "$WINE_ROOT/out/IcmpTools/IcmpTools.psd1")"

run_pester() {   # NAME FILE... : one host run, one NUnit file
    local name="$1"; shift
    local paths=() f
    for f in "$@"; do paths+=("$(winpath "$f")"); done
    local IFS=,
    local joined="${paths[*]}"
    unset IFS
    wine_host "Pester ($name)" "$(winpath "$HERE/Invoke-WinPester.ps1")" \
        -PesterManifest "$(winpath "$ICMPTOOLS_PESTER_MANIFEST")" -Path "$joined" \
        -ResultFile "$(winpath "$RESULTS/WinPester-$name.xml")" \
        || { echo "run-wine-tests: Pester ($name) failed"; failed=1; }
    # A host that died before writing its results must not pass with its tests simply missing from the totals.
    [[ -s "$RESULTS/WinPester-$name.xml" ]] || { echo "run-wine-tests: Pester ($name) wrote no results"; failed=1; }
}

shopt -s nullglob
loopback=() unelevated=() lab=()
for f in "$HERE"/Pester/*.Tests.ps1; do
    case "$f" in
        *Lab.Tests.ps1) lab+=("$f") ;;
        *Unelevated.Tests.ps1) unelevated+=("$f") ;;
        *) loopback+=("$f") ;;
    esac
done

# The loopback files run in a namespace of their own with only lo up: nothing they do can leave the
# machine, and a name lookup fails at once. Its ping sockets stay closed (a new namespace's default), so
# without CAP_NET_RAW no ICMP socket of any kind opens: Wine would otherwise hand a ping socket to a
# program that asks for a raw one, which Windows never does for a standard user.
LONS="${ICMPTOOLS_LAB_PREFIX:-iwl}$$-lo$RANDOM"
ip netns add "$LONS"
ip -n "$LONS" link set lo up
ip netns exec "$LONS" sysctl -q -w net.ipv4.ping_group_range="1 0"
if (( ${#loopback[@]} )); then NETNS="$LONS" run_pester loopback "${loopback[@]}"; fi
# Unelevated: root without CAP_NET_RAW, so raw sockets fail as they do for a standard Windows user; the
# wineserver (which makes the sockets) starts inside setpriv too, since run_pester stopped the last one.
if (( ${#unelevated[@]} )); then
    NETNS="$LONS" UNELEVATED=1 run_pester unelevated "${unelevated[@]}"
fi

if (( ${#lab[@]} )); then
    LAB="${ICMPTOOLS_LAB_PREFIX:-iwl}$$-$RANDOM"
    "$NETLAB" up "$LAB" >/dev/null
    export ICMPTOOLS_WINE_LAB="$LAB"
    NETNS="$LAB-c" run_pester lab "${lab[@]}"
fi

exit "$failed"
