#!/usr/bin/env bash
# run-engine-tests.sh: the engine's Windows transports (iphlpapi, raw Winsock) tested under Wine.
#
#   tests/windows/run-engine-tests.sh [RESULTS_DIR]
#
# Publishes tests/IcmpTools.Engine.WindowsTests self-contained for win-x64 (xunit v3: the tests are their own
# executable), builds a netlab lab (tests/netlab/netlab.sh, name h13t-<pid>, or $ICMPTOOLS_LAB_PREFIX-<pid>), and runs the executable under
# wine64 inside the lab's client namespace, so 127.0.0.1 and the lab's routers and target are all it can reach.
# Runs as root (the lab, and Wine's raw sockets need it). Leaves RESULTS_DIR/engine-windows.trx (default
# tests/windows/TestResults, where build.ps1 counts TRX files) and prints the runner's output and, last, one line
#   engine-windows: N passed, N failed, N skipped
# Exits non-zero when a test failed or nothing ran. The lab is deleted on every exit.
# Needs: wine64 (Debian: apt-get install -y wine64), the netlab tools, dotnet.
# WINEPREFIX defaults to a prefix of its own under ~/.cache; it is used by one run at a time (a lock), because
# a prefix's wineserver lives in the namespace of the run that started it.
set -euo pipefail

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT="$(cd "$HERE/../.." && pwd)"
readonly PROJECT="$ROOT/tests/IcmpTools.Engine.WindowsTests/IcmpTools.Engine.WindowsTests.csproj"
readonly RESULTS_DIR="$(mkdir -p "${1:-$HERE/TestResults}" && cd "${1:-$HERE/TestResults}" && pwd)"
readonly TRX="$RESULTS_DIR/engine-windows.trx"
# The runner's own XML, for the summary line; outside TestResults so build.ps1 counts the TRX alone.
readonly RESULTS="$ROOT/out/windows/engine-windows.xml"
readonly PUBLISH_DIR="$ROOT/out/windows/engine-tests"
# ICMPTOOLS_LAB_PREFIX: the lab name's prefix, as run-wine-tests.sh takes it (runs side by side name their labs apart).
readonly LAB="${ICMPTOOLS_LAB_PREFIX:-h13t}-$$"
export WINEPREFIX="${WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/icmptools/wine-engine-tests}"
export WINEDEBUG=-all

die() { echo "run-engine-tests: $*" >&2; exit 1; }

find_wine() {
    local candidate
    for candidate in "$(command -v wine64 || true)" /usr/lib/wine/wine64 /usr/lib/wine/wine; do
        [[ -n "$candidate" && -x "$candidate" ]] && { echo "$candidate"; return; }
    done
    # Debian's wine64 package keeps its launcher off PATH.
    candidate="$(dpkg -L wine64 2>/dev/null | grep -E '/wine64$' | head -n1 || true)"
    [[ -n "$candidate" && -x "$candidate" ]] && { echo "$candidate"; return; }
    die "wine64 not found (apt-get install -y wine64)"
}

[[ $EUID -eq 0 ]] || die "run as root: the lab needs CAP_NET_ADMIN and Wine's raw sockets CAP_NET_RAW"
readonly WINE="$(find_wine)"
readonly WINESERVER="$(dirname "$WINE")/wineserver"

echo "run-engine-tests: publishing $PROJECT (win-x64, self-contained)"
mkdir -p "$ROOT/out/windows"
dotnet publish "$PROJECT" -c Release -o "$PUBLISH_DIR" --nologo -v quiet >"$ROOT/out/windows/engine-windows-publish.log" 2>&1 \
    || { cat "$ROOT/out/windows/engine-windows-publish.log" >&2; die "publish failed"; }

mkdir -p "$(dirname "$WINEPREFIX")"
exec 8>"$WINEPREFIX.lock"
flock -w 600 8 || die "another run holds $WINEPREFIX.lock"

cleanup() {
    # Our prefix's wineserver (started by this run, in the lab) goes before the lab does.
    "$WINESERVER" -k >/dev/null 2>&1 || true
    bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# A wineserver of this prefix left by an earlier run lives in another namespace: end it (ours, by prefix).
"$WINESERVER" -k >/dev/null 2>&1 || true
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    echo "run-engine-tests: creating the Wine prefix $WINEPREFIX (once)"
    timeout 600 "$WINE" wineboot -u >/dev/null 2>&1 || die "wineboot failed"
    "$WINESERVER" -w || true
fi

echo "run-engine-tests: lab $LAB"
bash "$ROOT/tests/netlab/netlab.sh" up "$LAB" >/dev/null

mkdir -p "$(dirname "$RESULTS")"
rm -f "$RESULTS" "$TRX"
status=0
# Bounded: the tests bound every wait themselves; this only stops a hung Wine.
# DOTNET_EnableWriteXorExecute=0: with .NET's W^X double mapping on, Wine 8 runs crashed in the finalizer that frees
# dynamic methods' code ("Internal CLR error 0x80131506" in DynamicResolver.DestroyScout.Finalize), 3 runs in 4.
timeout 900 ip netns exec "$LAB-c" env ICMPTOOLS_WINE_LAB="$LAB" WINEPREFIX="$WINEPREFIX" WINEDEBUG=-all DOTNET_EnableWriteXorExecute=0 \
    "$WINE" "$PUBLISH_DIR/IcmpTools.Engine.WindowsTests.exe" -result-xml "Z:${RESULTS//\//\\}" -result-trx "Z:${TRX//\//\\}" \
    || status=$?

[[ -f "$RESULTS" ]] || die "no results were written (runner exit $status)"
read -r total failed skipped < <(python3 - "$RESULTS" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assemblies = root.iter("assembly")
t = f = s = 0
for a in assemblies:
    t += int(a.get("total", 0)); f += int(a.get("failed", 0)) + int(a.get("errors", 0) or 0); s += int(a.get("skipped", 0))
print(t, f, s)
PY
)
passed=$((total - failed - skipped))
echo "engine-windows: $passed passed, $failed failed, $skipped skipped"
[[ $total -gt 0 ]] || die "no test ran"
[[ $failed -eq 0 && $status -eq 0 ]]
