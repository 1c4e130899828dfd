#!/usr/bin/env bash
# Start-up cost of the module in a real pwsh (issue 10): median wall time of 10 runs each of
#   dotnet pwsh -NoProfile -c exit
#   dotnet pwsh -NoProfile -c "Import-Module ./out/IcmpTools; Test-IcmpEcho 127.0.0.1 -Count 1"
# and of two steps in between (import only; import + ping through the apphost), run interleaved so
# that machine noise hits every variant alike. Needs root (raw socket) and a build (out/IcmpTools).
# Usage: bench/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
[[ -f out/IcmpTools/IcmpTools.dll ]] || { echo "build first: dotnet pwsh ./build.ps1" >&2; exit 1; }
pwsh_apphost="$(dotnet pwsh -NoProfile -c 'Join-Path $PSHOME pwsh')"

declare -A cmd=(
    [1-exit]="dotnet pwsh -NoProfile -c exit"
    [2-import]="dotnet pwsh -NoProfile -c Import-Module ./out/IcmpTools"
    [3-import+ping]="dotnet pwsh -NoProfile -c Import-Module ./out/IcmpTools; Test-IcmpEcho 127.0.0.1 -Count 1 | Out-Null"
    [4-apphost-exit]="$pwsh_apphost -NoProfile -c exit"
    [5-apphost-import+ping]="$pwsh_apphost -NoProfile -c Import-Module ./out/IcmpTools; Test-IcmpEcho 127.0.0.1 -Count 1 | Out-Null"
)
declare -A times
run_one() {
    local key="$1" start end
    # Split the command at the first ' -c ' so the PowerShell text stays one argument.
    local program="${cmd[$key]%% -c *}" script="${cmd[$key]#* -c }"
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    $program -c "$script" >/dev/null
    end=$(date +%s%N)
    times[$key]+="$(((end - start) / 1000000)) "
}
for key in "${!cmd[@]}"; do run_one "$key"; times[$key]=""; done   # warm the disk cache once
for ((i = 0; i < runs; i++)); do
    for key in $(printf '%s\n' "${!cmd[@]}" | sort); do run_one "$key"; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median of $runs runs (ms), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for key in $(printf '%s\n' "${!cmd[@]}" | sort); do
    printf '%-24s %6s   (%s)\n' "$key" "$(echo "${times[$key]}" | median)" "${times[$key]% }"
done
# Each round ran every variant back to back, so the per-round difference cancels most of the machine's
# load swings; its median is the figure to quote.
paired() {
    paste -d' ' <(echo "${times[$1]}" | tr ' ' '\n' | grep -v '^$') <(echo "${times[$2]}" | tr ' ' '\n' | grep -v '^$') |
        awk '{print $2 - $1}' | tr '\n' ' ' | median
}
echo "module cost, median of per-round differences: import + first reply $(paired 1-exit 3-import+ping) ms over 'exit'" \
    "(import alone $(paired 1-exit 2-import) ms; through the apphost $(paired 4-apphost-exit 5-apphost-import+ping) ms)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
