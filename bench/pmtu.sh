#!/usr/bin/env bash
# bench/pmtu.sh: path MTU discovery, Test-IcmpEcho -MtuSize beside tracepath (iputils) and PowerShell's own
# Test-Connection -MtuSize, in one run, on the lab's narrow link (netlab.sh pmtu: 1400 IPv4, 1280 IPv6, the
# router says so) and its PMTU black hole (as narrow, the router drops its Fragmentation Needed / Packet Too Big).
# Each tool starts from a cold cache (the client's learned path MTUs flushed) and is timed from the start of its
# discovery to its answer (the pwsh session's first discovery of each target on rows of its own); probes are the
# packets the client sent to the target, counted by nftables as they leave its interface.
# Needs root. Traffic goes only to the namespace lab this script builds and removes. Writes bench/results/pmtu.md.
# MODULE=out/linux-x64/IcmpTools runs the module's Linux x64 copy (ReadyToRun, tools/ReadyToRun) instead, into
# bench/results/pmtu-out-linux-x64-IcmpTools.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench/results"
LAB="${ICMPTOOLS_LAB_PREFIX:-pmb}$$"
NS="$LAB-c"
TARGETS=(198.18.16.1 2001:db8:16::1 198.18.17.1 2001:db8:17::1)
# Where the router names the MTU a discovery takes milliseconds, and one run on a busy machine says little: each
# tool runs RUNS times there and its row gives the medians. The black holes take seconds: one run each.
RUNS="${RUNS:-5}"
MODULE="${MODULE:-out/IcmpTools}"
RESULT=pmtu.md
[[ "$MODULE" == out/IcmpTools ]] || RESULT="pmtu-${MODULE//\//-}.md"
# tracepath never finishes in a black hole (it waits for the error that never comes): bounded here.
TRACEPATH_LIMIT="${TRACEPATH_LIMIT:-30}"
mkdir -p "$OUT"
command -v tracepath >/dev/null || apt-get install -y -q iputils-tracepath >/dev/null

[[ -f out/IcmpTools/IcmpTools.psd1 ]] || dotnet pwsh -NoProfile ./build.ps1 >/dev/null
trap 'bash "$ROOT/tests/netlab/netlab.sh" down "$LAB" >/dev/null 2>&1 || true' EXIT
bash tests/netlab/netlab.sh up "$LAB"
bash tests/netlab/netlab.sh pmtu "$LAB" on
# Counted as frames leave the client's interface (netdev egress): the raw transport sends Ethernet frames through
# packet sockets, which the IP output hook never sees. A fragmented probe counts once (its first fragment).
ip netns exec "$NS" nft -f - <<'NFT'
table netdev h15bench {
    counter probes {}
    chain egress {
        type filter hook egress device "to-r1" priority 0; policy accept;
        ip daddr { 198.18.16.1, 198.18.17.1 } ip frag-off & 0x1fff == 0 counter name probes
        ip6 daddr { 2001:db8:16::1, 2001:db8:17::1 } exthdr frag missing counter name probes
        ip6 daddr { 2001:db8:16::1, 2001:db8:17::1 } frag frag-off 0 counter name probes
    }
}
NFT

# One pwsh runs every tool, run by run in turn (tracepath, Test-IcmpEcho, Test-Connection), so that all three see
# the same load on a shared machine; each discovery is timed from a cold cache, after a warm-up on loopback.
cat >"/tmp/$LAB.ps1" <<'PS1'
param([string]$Module, [int]$Runs, [int]$TracepathLimit, [Parameter(ValueFromRemainingArguments)][string[]]$Targets)
Import-Module $Module
function Cold { ip -4 route flush cache; ip -6 route flush cache; nft reset counter netdev h15bench probes > $null }
function Probes { if (((nft list counter netdev h15bench probes) -join ' ') -match 'packets (\d+)') { [int]$Matches[1] } }
function Median([double[]]$Values) { ($Values | Sort-Object)[[int][Math]::Floor(($Values.Count - 1) / 2)] }
function Tracepath([string]$Target) {
    # Started as bash starts it (fork and exec, output to a pipe), and stopped at the limit: in a black hole it never ends.
    $start = [Diagnostics.ProcessStartInfo]::new('tracepath')
    $start.ArgumentList.Add('-n'); $start.ArgumentList.Add($Target)
    $start.RedirectStandardOutput = $true
    $process = [Diagnostics.Process]::Start($start)
    $text = $process.StandardOutput.ReadToEndAsync()
    if (-not $process.WaitForExit($TracepathLimit * 1000)) { $process.Kill() }
    $process.WaitForExit()
    if ($text.Result -match 'Resume: pmtu (\d+)') { $Matches[1] } else { "none (stopped at $TracepathLimit s)" }
}
$tools = [ordered]@{
    'tracepath' = { param($Target) Tracepath $Target }
    'Test-IcmpEcho -MtuSize' = {
        param($Target)
        $r = Test-IcmpEcho $Target -MtuSize
        # The discovery's own time (PathMtuResult.ElapsedMilliseconds); the rest is the cmdlet's sockets and pipeline.
        $script:discovery = $r.ElapsedMilliseconds
        "$($r.Mtu) ($($r.Method))"
    }
    'Test-Connection -MtuSize' = {
        param($Target)
        $c = Test-Connection $Target -MtuSize -TimeoutSeconds 2 -ErrorAction SilentlyContinue
        if ($c.MtuSize) { $c.MtuSize + $(if ($Target -match ':') { 48 } else { 28 }) } else { 'none' }
    }
}
function Measure-Tool([string]$Tool, [string]$Target) {
    Cold
    $script:discovery = $null
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $mtu = & $tools[$Tool] $Target
    $ms = $watch.Elapsed.TotalMilliseconds
    [pscustomobject]@{ Tool = $Tool; Mtu = "$mtu"; Probes = (Probes); Ms = $ms; Discovery = $script:discovery }
}
# The warm-up on loopback goes through the very script blocks the rows time: their own first run (PowerShell compiling
# them, binding the result's properties) cost ~30 ms of the first row before, which no module can save.
foreach ($tool in $tools.Keys) { if ($tool -ne 'tracepath') { $null = Measure-Tool $tool 127.0.0.1 } }
# The session's first discovery of each target still compiles its code (JIT): a row of its own.
foreach ($target in $Targets) {
    $first = Measure-Tool 'Test-IcmpEcho -MtuSize' $target
    '| {0} | Test-IcmpEcho -MtuSize, first call | {1} | {2} | {3:0} | {4:0.0} |' -f $target, $first.Mtu, $first.Probes, $first.Ms, $first.Discovery
}
foreach ($target in $Targets) {
    $n = if ($target -in '198.18.16.1', '2001:db8:16::1') { $Runs } else { 1 }
    $results = foreach ($i in 1..$n) { foreach ($tool in $tools.Keys) { Measure-Tool $tool $target } }
    foreach ($tool in $tools.Keys) {
        $mine = @($results | Where-Object Tool -EQ $tool)
        $discovery = if ($null -ne $mine[0].Discovery) { '{0:0.0}' -f (Median $mine.Discovery) } else { '' }
        '| {0} | {1} | {2} | {3} | {4:0} | {5} |' -f $target, $tool, (($mine.Mtu | Sort-Object -Unique) -join '/'),
            (Median $mine.Probes), (Median $mine.Ms), $discovery
    }
}
PS1
mapfile -t rows < <(ip netns exec "$NS" dotnet pwsh -NoProfile -File "/tmp/$LAB.ps1" -Module "./$MODULE" -Runs "$RUNS" -TracepathLimit "$TRACEPATH_LIMIT" "${TARGETS[@]}")
rm -f "/tmp/$LAB.ps1"

{
    echo "# Path MTU: Test-IcmpEcho -MtuSize ($MODULE), tracepath, Test-Connection -MtuSize ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "198.18.16.1 / 2001:db8:16::1: a 1400 / 1280-byte link whose router sends Fragmentation Needed / Packet Too Big."
    echo "198.18.17.1 / 2001:db8:17::1: as narrow, the router drops those (a PMTU black hole). MTU in bytes (IP packet)."
    echo "Probes and time: medians of $RUNS runs where the router names the MTU, one run in the black holes."
    echo
    echo "| target | tool | path MTU | probes sent | time (ms) | of which the discovery (ms) |"
    echo "|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do echo "$r"; done | sort -t'|' -k2,2 -s
} | tee "$OUT/$RESULT"
