<#
.SYNOPSIS
    One block swept by IcmpTools (raw Winsock and iphlpapi), a C# fan-out of Ping.SendPingAsync and
    Test-Connection, in the Windows PowerShell host under Wine (bench/windows/run.sh runs it).
.DESCRIPTION
    Each tool sweeps every host address of -Block once with a 1 s timeout; every tool but Test-Connection
    runs -Repeat times (medians), Test-Connection (one target at a time) once. Before timing, each tool
    sweeps a /28 of the same block once, so no timing pays for the JIT. Writes one Markdown table row
    per tool to -OutFile (appending) and to the output.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [Parameter(Mandatory)][string]$Block,
    [Parameter(Mandatory)][string]$OutFile,
    [int]$Repeat = 3
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Add-Type -Path (Join-Path $PSScriptRoot 'PingFanout.cs')

function Get-HostAddress([string]$Cidr) {
    # Every address of the block but its network and broadcast address, as the sweep takes them.
    $network = [System.Net.IPNetwork]::Parse($Cidr)
    $first = [System.Buffers.Binary.BinaryPrimitives]::ReadUInt32BigEndian($network.BaseAddress.GetAddressBytes())
    $count = [math]::Pow(2, 32 - $network.PrefixLength)
    foreach ($i in 1..($count - 2)) {
        $bytes = [byte[]]::new(4)
        [System.Buffers.Binary.BinaryPrimitives]::WriteUInt32BigEndian($bytes, [uint32]($first + $i))
        [System.Net.IPAddress]::new($bytes).ToString()
    }
}

$targets = [string[]]@(Get-HostAddress $Block)
$warmBlock = ($Block -replace '/\d+$') + '/28'
$warmTargets = [string[]]@(Get-HostAddress $warmBlock)

$tools = [ordered]@{
    'IcmpTools `Invoke-IcmpMultiPing` (raw Winsock)' = @{
        Run = { param($block, $list) @(Invoke-IcmpMultiPing $block -Count 1 -TimeoutSeconds 1 -Alive).Count }; Repeat = $Repeat }
    'IcmpTools `Invoke-IcmpMultiPing -Unprivileged` (iphlpapi)' = @{
        Run = { param($block, $list) @(Invoke-IcmpMultiPing $block -Count 1 -TimeoutSeconds 1 -Alive -Unprivileged).Count }; Repeat = $Repeat }
    'C# fan-out of `Ping.SendPingAsync`' = @{
        Run = { param($block, $list) [IcmpTools.Bench.Windows.PingFanout]::Sweep($list, 1000) }; Repeat = $Repeat }
    '`Test-Connection -Count 1 -TimeoutSeconds 1`' = @{
        Run = { param($block, $list) @(Test-Connection -TargetName $list -Count 1 -TimeoutSeconds 1 -Ping |
                Where-Object Status -EQ 'Success').Count }; Repeat = 1 }
}

# Each row is written as soon as its tool is done: a host that dies later (Wine faulted under the fan-out now and
# then, see run.sh) keeps the rows before it. IcmpTools' raw row comes first and is the ratios' base.
$ours = $null
foreach ($name in $tools.Keys) {
    $tool = $tools[$name]
    $null = & $tool.Run $warmBlock $warmTargets
    $runs = foreach ($i in 1..$tool.Repeat) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $alive = & $tool.Run $Block $targets
        $watch.Stop()
        [pscustomobject]@{ Ms = $watch.Elapsed.TotalMilliseconds; Alive = $alive }
    }
    $sorted = @($runs | Sort-Object Ms)
    $median = $sorted[[int][math]::Floor(($sorted.Count - 1) / 2)].Ms
    if ($null -eq $ours) { $ours = $median }
    $ratio = if ($median -eq $ours) { '1.0x' } else { '{0:N1}x' -f ($median / $ours) }
    $runText = ($runs | ForEach-Object { '{0:N0}' -f $_.Ms }) -join ', '
    $aliveText = ($runs | ForEach-Object Alive | Select-Object -Unique) -join '/'
    $line = "| $Block | $name | {0:N0} ms | $ratio | $runText | $aliveText of $($targets.Count) |" -f $median
    Add-Content -LiteralPath $OutFile -Value $line
    $line
}
