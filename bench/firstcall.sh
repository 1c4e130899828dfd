#!/usr/bin/env bash
# The session's first call (issues 15 and 16): the platform-neutral module (out/IcmpTools, IL) against its Linux
# x64 copy (out/linux-x64/IcmpTools, the two assemblies compiled ReadyToRun by tools/ReadyToRun), each in fresh
# pwsh sessions, interleaved so that machine noise hits both alike. In each session: Import-Module, then one call
# timed in-process (Stopwatch) with the CPU time the process used meanwhile (every thread: the JIT's background
# ones too; less at the mercy of other work on a shared machine than wall time) and the methods the JIT compiled
# (System.Runtime.JitInfo), then the same call again (warm). Calls: Test-IcmpEcho 127.0.0.1 -MtuSize,
# Test-IcmpEcho ::1 -MtuSize, Invoke-IcmpMultiPing 127.0.0.0/24 -Count 1 (loopback only). Needs root (raw sockets)
# and a build. Usage: bench/firstcall.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-7}"
[[ -f out/linux-x64/IcmpTools/IcmpTools.dll ]] || { echo "build first: dotnet pwsh ./build.ps1" >&2; exit 1; }
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
declare -A module=([il]=./out/IcmpTools [r2r]=./out/linux-x64/IcmpTools)

cat >"$stage/first.ps1" <<'PS1'
param([string]$Module, [string]$Call)
$calls = @{
    'mtu4'  = { Test-IcmpEcho 127.0.0.1 -MtuSize }
    'mtu6'  = { Test-IcmpEcho ::1 -MtuSize }
    'sweep' = { Invoke-IcmpMultiPing 127.0.0.0/24 -Count 1 }
}
$watch = [Diagnostics.Stopwatch]::StartNew()
Import-Module $Module
$import = $watch.Elapsed.TotalMilliseconds
$methods = [System.Runtime.JitInfo]::GetCompiledMethodCount()
$process = [Diagnostics.Process]::GetCurrentProcess()
$cpu = $process.TotalProcessorTime
$watch.Restart()
$null = & $calls[$Call]
$first = $watch.Elapsed.TotalMilliseconds
$methods = [System.Runtime.JitInfo]::GetCompiledMethodCount() - $methods
$process.Refresh()
$cpu = ($process.TotalProcessorTime - $cpu).TotalMilliseconds
$watch.Restart()
$null = & $calls[$Call]
'{0:0} {1:0} {2:0.0} {3} {4:0}' -f $import, $first, $watch.Elapsed.TotalMilliseconds, $methods, $cpu
PS1

declare -A results
for ((i = 0; i < runs; i++)); do
    for call in mtu4 mtu6 sweep; do
        for variant in il r2r; do
            results[$call-$variant]+="$(dotnet pwsh -NoProfile -File "$stage/first.ps1" -Module "${module[$variant]}" -Call "$call")"$'\n'
        done
    done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
column_median() { echo -n "${results[$1]}" | awk -v c="$2" '{print $c}' | median; }
echo "medians of $runs fresh sessions each, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-4s %10s %14s %12s %16s %12s\n' call dll 'import ms' 'first call ms' 'its CPU ms' 'JIT methods (1st)' 'second ms'
for call in mtu4 mtu6 sweep; do
    for variant in il r2r; do
        printf '%-6s %-4s %10s %14s %12s %16s %12s\n' "$call" "$variant" "$(column_median "$call-$variant" 1)" \
            "$(column_median "$call-$variant" 2)" "$(column_median "$call-$variant" 5)" "$(column_median "$call-$variant" 4)" \
            "$(column_median "$call-$variant" 3)"
    done
done
