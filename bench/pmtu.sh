#!/usr/bin/env bash
# bench/pmtu.sh: path MTU discovery, Test-IcmpEcho -MtuSize beside tracepath (iputils) and PowerShell's own
# Test-Connection -MtuSize, in one run, on the lab's narrow link (netlab.sh pmtu: 1400 IPv4, 1280 IPv6, the
# router says so) and its PMTU black hole (as narrow, the router drops its Fragmentation Needed / Packet Too Big).
# Each tool starts from a cold cache (the client's learned path MTUs flushed) and is timed from the start of its
# discovery to its answer (the pwsh session's first discovery of each target on rows of its own); probes are the
# packets the client sent to the target, counted by nftables as they leave its interface.
# Needs root. Traffic goes only to the namespace lab this script builds and removes. Writes bench/results/pmtu.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench/results"
LAB="${ICMPTOOLS_LAB_PREFIX:-pmb}$$"
NS="$LAB-c"
TARGETS=(198.18.16.1 2001:db8:16::1 198.18.17.1 2001:db8:17::1)
# tracepath never finishes in a black hole (it waits for the error that never comes): bounded here.
TRACEPATH_LIMIT=30
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

cold() { ip netns exec "$NS" sh -c 'ip -4 route flush cache; ip -6 route flush cache; nft reset counter netdev h15bench probes >/dev/null'; }
probes() { ip netns exec "$NS" nft list counter netdev h15bench probes | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
now_ms() { date +%s%3N; }

rows=()
for target in "${TARGETS[@]}"; do
    cold
    start=$(now_ms)
    text="$(timeout "$TRACEPATH_LIMIT" ip netns exec "$NS" tracepath -n "$target" 2>&1 || true)"
    ms=$(( $(now_ms) - start ))
    mtu="$(sed -n 's/.*Resume: pmtu \([0-9]*\).*/\1/p' <<<"$text")"
    rows+=("| $target | tracepath | ${mtu:-none (stopped at ${TRACEPATH_LIMIT} s)} | $(probes) | $ms |")
done

# One pwsh for both cmdlets: each discovery is timed inside it, after a warm-up, from a cold cache.
cat >"/tmp/$LAB.ps1" <<'PS1'
param([Parameter(ValueFromRemainingArguments)][string[]]$Targets)
Import-Module ./out/IcmpTools
$null = Test-IcmpEcho 127.0.0.1 -MtuSize; $null = Test-Connection 127.0.0.1 -MtuSize -TimeoutSeconds 2
function Cold { ip -4 route flush cache; ip -6 route flush cache; nft reset counter netdev h15bench probes > $null }
function Probes { if (((nft list counter netdev h15bench probes) -join ' ') -match 'packets (\d+)') { $Matches[1] } }
# The session's first discovery of each kind still compiles its code (JIT): timed on its own rows, then the
# measured pass below.
foreach ($target in $Targets) {
    Cold
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $r = Test-IcmpEcho $target -MtuSize
    '| {0} | Test-IcmpEcho -MtuSize, first call | {1} ({2}) | {3} | {4:0} |' -f $target, $r.Mtu, $r.Method, (Probes), $watch.Elapsed.TotalMilliseconds
}
foreach ($target in $Targets) {
    Cold
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $r = Test-IcmpEcho $target -MtuSize
    '| {0} | Test-IcmpEcho -MtuSize | {1} ({2}) | {3} | {4:0} |' -f $target, $r.Mtu, $r.Method, (Probes), $watch.Elapsed.TotalMilliseconds
    Cold
    $watch.Restart()
    $c = Test-Connection $target -MtuSize -TimeoutSeconds 2 -ErrorAction SilentlyContinue
    $header = if ($target -match ':') { 48 } else { 28 }
    $mtu = if ($c.MtuSize) { $c.MtuSize + $header } else { 'none' }
    '| {0} | Test-Connection -MtuSize | {1} | {2} | {3:0} |' -f $target, $mtu, (Probes), $watch.Elapsed.TotalMilliseconds
}
PS1
mapfile -t pwrows < <(ip netns exec "$NS" dotnet pwsh -NoProfile -File "/tmp/$LAB.ps1" "${TARGETS[@]}")
rm -f "/tmp/$LAB.ps1"

{
    echo "# Path MTU: Test-IcmpEcho -MtuSize, tracepath, Test-Connection -MtuSize ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
    echo
    echo "198.18.16.1 / 2001:db8:16::1: a 1400 / 1280-byte link whose router sends Fragmentation Needed / Packet Too Big."
    echo "198.18.17.1 / 2001:db8:17::1: as narrow, the router drops those (a PMTU black hole). MTU in bytes (IP packet)."
    echo
    echo "| target | tool | path MTU | probes sent | time (ms) |"
    echo "|---|---|---|---|---|"
    for r in "${rows[@]}" "${pwrows[@]}"; do echo "$r"; done | sort -t'|' -k2,2 -s
} | tee "$OUT/pmtu.md"
