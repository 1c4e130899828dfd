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
readonly ROOT="$(cd "$HERE/../.." && pwd)"
readonly HOST_DIR="$ROOT/out/winhost"
readonly RESULTS="$HERE/TestResults"
readonly NETLAB="$ROOT/tests/netlab/netlab.sh"
# Generous bounds for a loaded machine: they only stop a hung Wine, they time nothing.
readonly BOOT_TIMEOUT=600 RUN_TIMEOUT=900

die() { echo "run-wine-tests: $*" >&2; exit 1; }

[[ -n "${ICMPTOOLS_PESTER_MANIFEST:-}" && -f "$ICMPTOOLS_PESTER_MANIFEST" ]] \
    || die "set ICMPTOOLS_PESTER_MANIFEST to Pester.psd1 (build.ps1 -Test does)"
# Debian puts the 64-bit launcher outside PATH.
WINE="$(command -v wine64 || true)"
[[ -n "$WINE" ]] || WINE=/usr/lib/wine/wine64
[[ -x "$WINE" ]] || die "wine64 is not installed (apt-get install wine64)"
WINESERVER="$(dirname "$WINE")/wineserver"
[[ -x "$WINESERVER" ]] || WINESERVER="$(command -v wineserver)"

# A prefix of our own: a fresh machine has none, and a shared one would share its wineserver (and with
# it the network namespace its sockets are made in) with whoever else runs Wine here.
WINEPREFIX="$(mktemp -d "${TMPDIR:-/tmp}/icmptools-wine.XXXXXX")"
export WINEPREFIX WINEDEBUG=-all WINEARCH=win64
# Under Wine 8, .NET's W^X double mapping of JIT code ends in "Internal CLR error (0x80131506)" in a
# finaliser once PowerShell has compiled a few dynamic methods; Windows itself does not need this.
export DOTNET_EnableWriteXorExecute=0
LAB="" LONS=""

cleanup() {
    local rc=$?
    "$WINESERVER" -k 2>/dev/null || true
    "$WINESERVER" -w 2>/dev/null || true
    if [[ -n "$LAB" ]]; then "$NETLAB" down "$LAB" || true; fi
    if [[ -n "$LONS" ]]; then ip netns delete "$LONS" || true; fi
    rm -rf "$WINEPREFIX"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

winpath() { printf 'Z:%s' "${1//\//\\}"; }

# Prefix creation takes a while on a fresh machine. Wine would offer to download Mono and Gecko (a
# dialog, or a hang with no display): mscoree and mshtml are switched off while it boots, and only then,
# since Wine hands .NET assemblies to mscoree when a program loads them as modules.
echo "run-wine-tests: creating the Wine prefix $WINEPREFIX"
WINEDLLOVERRIDES="mscoree,mshtml=" timeout -k 10 "$BOOT_TIMEOUT" "$WINE" wineboot --init </dev/null
# .NET 10 needs Windows 10 or later; Wine 8's new prefixes say Windows 7.
timeout -k 10 "$BOOT_TIMEOUT" "$WINE" winecfg -v win10 </dev/null
"$WINESERVER" -w
export WINEDLLOVERRIDES="mshtml="

echo "run-wine-tests: publishing the Windows PowerShell host to $HOST_DIR"
dotnet publish "$HERE/WinPwshHost/WinPwshHost.csproj" -c Release -o "$HOST_DIR" --nologo -v quiet
[[ -f "$ROOT/out/IcmpTools/IcmpTools.psd1" ]] || die "no module in out/IcmpTools: build first"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
failed=0

if [[ -f "$HERE/run-engine-tests.sh" ]]; then
    bash "$HERE/run-engine-tests.sh" || failed=1
fi

# ICMPTOOLS_WIN_MODULE and the lab variables reach the Windows side through Wine's environment.
export ICMPTOOLS_WIN_MODULE="$(winpath "$ROOT/out/IcmpTools/IcmpTools.psd1")"

run_pester() {   # NAME FILE... : one host run, one NUnit file; in the namespace $NETNS when set
    local name="$1"; shift
    local paths=() f
    for f in "$@"; do paths+=("$(winpath "$f")"); done
    local IFS=,
    local cmd=("$WINE" "$HOST_DIR/WinPwshHost.exe" "$(winpath "$HERE/Invoke-WinPester.ps1")"
        -PesterManifest "$(winpath "$ICMPTOOLS_PESTER_MANIFEST")" -Path "${paths[*]}"
        -ResultFile "$(winpath "$RESULTS/WinPester-$name.xml")")
    unset IFS
    echo "run-wine-tests: Pester ($name) in ${NETNS:-the root namespace}${UNELEVATED:+, without CAP_NET_RAW}"
    if [[ -n "${UNELEVATED:-}" ]]; then cmd=(setpriv --bounding-set=-net_raw --inh-caps=-net_raw "${cmd[@]}"); fi
    if [[ -n "${NETNS:-}" ]]; then cmd=(ip netns exec "$NETNS" "${cmd[@]}"); fi
    timeout -k 10 "$RUN_TIMEOUT" "${cmd[@]}" </dev/null || { echo "run-wine-tests: Pester ($name) exited $?"; failed=1; }
    # The next run may be in another namespace: its sockets must come from a wineserver started there.
    "$WINESERVER" -k 2>/dev/null || true
    "$WINESERVER" -w
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
