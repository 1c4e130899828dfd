#!/usr/bin/env bash
# bench/unpriv.sh: the /16 lab sweep unprivileged (datagram "ping" sockets, as uid 65534 with no
# capabilities) beside the privileged one (raw sockets, root) and fping, in one run (issue 9).
# Needs root (namespaces; setpriv drops to 65534). Writes bench/results/unpriv.md.
# Traffic goes only to the namespace lab this script builds and removes.
#
# Each PowerShell mode is one process (the test assembly's script host, tests/IcmpTools.Tests/ScriptHost.cs)
# that warms up on a /24 and then times REPEAT sweeps in the same session, call to last object, as bench/run.sh's
# "$r = ...; $r.Count; ($r | Where-Object IsAlive).Count" row does. fping runs REPEAT times under /usr/bin/time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench/results"
REPEAT="${REPEAT:-3}"
LAB="unpriv$$"
NS="$LAB-c"
BLOCK=198.19.0.0/16
WARM=198.19.1.0/24
STAGE="$(mktemp -d /tmp/icmptools-unpriv-bench.XXXXXX)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
DOTNET="$(command -v dotnet)"
mkdir -p "$OUT"

echo "== build (Release)"
dotnet build tests/IcmpTools.Tests/IcmpTools.Tests.csproj -c Release -v q -nologo >"$STAGE/build.log" 2>&1 \
    || { cat "$STAGE/build.log"; exit 1; }
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

# uid 65534 cannot read the build tree: stage the host and the module where anyone may read them.
cp -r tests/IcmpTools.Tests/bin/Release/net10.0 "$STAGE/bin"
cp -r out/IcmpTools "$STAGE/IcmpTools"
mkdir -p "$STAGE/home"
chmod -R o+rX "$STAGE"
chmod 777 "$STAGE/home"

echo "== lab $LAB"
trap 'bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" || true; rm -rf "$STAGE"' EXIT
bash tests/netlab/netlab.sh up "$LAB"
ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

SWEEP='param($extra)
$null = Invoke-IcmpMultiPing '"$WARM"' -Count 1 -TimeoutSeconds 1 @extra
foreach ($i in 1..'"$REPEAT"') {
    [GC]::Collect()
    $w = [Diagnostics.Stopwatch]::StartNew()
    $r = Invoke-IcmpMultiPing '"$BLOCK"' -Count 1 -TimeoutSeconds 1 -Rate 0 -ThrottleLimit 65536 @extra
    $n = $r.Count
    $a = ($r | Where-Object IsAlive).Count
    "RESULT $i $([int]$w.Elapsed.TotalMilliseconds) $n $a $($r[0].IsPrivileged)"
}'

results=()
ps_mode() {   # label extra-args(ps literal) user(root|nobody)
    local label="$1" extra="$2" user="$3" pre=()
    [[ "$user" == nobody ]] && pre=("${NOBODY[@]}")
    echo "   $label"
    local script="& { $SWEEP } -extra $extra"
    while read -r line; do
        line="${line#OUT \"}"; line="${line%\"}"
        [[ "$line" == RESULT* ]] || { echo "     $line"; continue; }
        echo "     $line"
        results+=("$label ${line#RESULT }")
    done < <(ip netns exec "$NS" "${pre[@]}" env HOME="$STAGE/home" "$DOTNET" exec "$STAGE/bin/IcmpTools.Tests.dll" \
        --run-script "$STAGE/IcmpTools/IcmpTools.psd1" "$script")
}

fping_mode() {   # label user
    local label="$1" user="$2" pre=() r fping=fping
    if [[ "$user" == nobody ]]; then
        pre=("${NOBODY[@]}")
        # /usr/bin/fping carries cap_net_raw as a file capability, which an empty bounding set refuses to
        # exec; a plain copy runs as a normal user would, on fping's own datagram-socket fallback.
        fping="$STAGE/fping"
        cp "$(command -v fping)" "$fping"
        chmod 755 "$fping"
    fi
    echo "   $label"
    for ((r = 1; r <= REPEAT; r++)); do
        local alive
        alive="$( (ip netns exec "$NS" "${pre[@]}" /usr/bin/time -f "%e" -o "$STAGE/fping.time" \
            "$fping" -q -a -i 0 -r 0 -t 500 -g "$BLOCK" 2>/dev/null || true) | wc -l)"
        local ms
        ms="$(awk '{ printf "%d", $1 * 1000 }' "$STAGE/fping.time")"
        echo "     $r $ms $alive"
        results+=("$label $r $ms 65534 $alive -")
    done
}

echo "== sweep $BLOCK, -Count 1"
ps_mode "privileged (root, raw)" '@{}' root
ps_mode "unprivileged (uid 65534, datagram)" '@{}' nobody
ps_mode "root with -Unprivileged (datagram)" '@{ Unprivileged = $true }' root
fping_mode "fping (root, raw)" root
fping_mode "fping (uid 65534, its datagram fallback)" nobody

python3 - "$OUT/unpriv.md" "$REPEAT" "${results[@]}" <<'PYEOF'
import statistics, sys, datetime
out, repeat, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
by = {}
for row in rows:
    parts = row.rsplit(" ", 5)
    label, run, ms, hosts, alive, priv = parts
    by.setdefault(label, []).append((int(ms), int(hosts), int(alive), priv))
median = {k: statistics.median(m for m, *_ in v) for k, v in by.items()}
base = median.get("unprivileged (uid 65534, datagram)")
lines = [f"# Unprivileged sweep, {datetime.date.today()} ({repeat} runs each, medians)", "",
         "| mode | wall (median) | runs | alive | ÷ unprivileged |", "|---|---:|---|---|---:|"]
for k, v in by.items():
    runs = ", ".join(str(m) for m, *_ in v)
    alive = ", ".join(str(a) for _, _, a, _ in v)
    ratio = f"{median[k] / base:.2f}×" if base else "-"
    lines.append(f"| {k} | {median[k]:,.0f} ms | {runs} | {alive} | {ratio} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PYEOF
