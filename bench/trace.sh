#!/usr/bin/env bash
# bench/trace.sh: Trace-IcmpRoute's engine side by side with traceroute -I, scamper (trace icmp-paris,
# tracelb), icmplib and mtr, in one run from the namespace lab's client. Needs root. Installs the
# peers from Debian apt when missing. Writes bench/results/trace-latest.md.
# Traffic goes only to the lab this script builds and removes. REPEAT (default 3) runs per tool.
# It ends with a 10-round report (ROUNDS) beside mtr --report -c 10; ONLY=rounds runs just that. Then the path
# MTU beside tracepath and Test-Connection -MtuSize (bench/pmtu.sh, in its own lab with the narrow links and the
# black holes, writes bench/results/pmtu.md); ONLY=pmtu runs just that, SKIP_PMTU=1 leaves it out.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench/results"
REPEAT="${REPEAT:-3}"
LAB="${ICMPTOOLS_LAB_PREFIX:-trb}$$"
mkdir -p "$OUT"
REPORT="$OUT/trace-latest.md"
[[ "${ONLY:-}" == rounds ]] && REPORT="$OUT/trace-rounds-latest.md"
# The path MTU has a lab of its own (netlab.sh pmtu): pmtu.sh builds and removes it.
if [[ "${ONLY:-}" == pmtu ]]; then exec bash "$ROOT/bench/pmtu.sh"; fi

need=()
command -v traceroute >/dev/null || need+=(traceroute)
command -v mtr >/dev/null || need+=(mtr-tiny)
command -v scamper >/dev/null || need+=(scamper)
/usr/bin/python3 -c 'import icmplib' 2>/dev/null || need+=(python3-icmplib)
if ((${#need[@]})); then
    echo "== apt-get install ${need[*]}"
    apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi

echo "== build (Release)"
dotnet build bench/IcmpTools.Bench/IcmpTools.Bench.csproj -c Release -v q -nologo >/dev/null

echo "== lab $LAB"
trap 'bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" || true' EXIT
bash tests/netlab/netlab.sh up "$LAB"

echo "== runs (a few minutes: mtr waits its grace time, icmplib and traceroute the full timeout at silent hops)"
{
    echo "# Traceroute benchmark, $(date -u +%Y-%m-%d), $(nproc) cores"
    echo
    echo "Versions: $(traceroute --version 2>&1 | head -1); scamper $(dpkg-query -W -f='${Version}' scamper); icmplib $(/usr/bin/python3 -c 'import icmplib; print(icmplib.__version__)'); mtr $(dpkg-query -W -f='${Version}' mtr-tiny)."
    timeout 900 ip netns exec "$LAB-c" /usr/bin/python3 "$ROOT/bench/trace_bench.py" "$LAB" "$REPEAT"
} | tee "$REPORT"

if [[ -z "${SKIP_PMTU:-}" && "${ONLY:-}" != rounds ]]; then
    echo "== path MTU (bench/pmtu.sh)"
    bash "$ROOT/bench/pmtu.sh"
fi
