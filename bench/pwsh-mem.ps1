# bench/pwsh-mem.ps1: memory of a loopback sweep in a real pwsh (run by bench/run.sh, one fresh pwsh per mode).
# Prints one "RESULT {json}" line: VmRSS after a warm-up /24, then VmHWM (peak, reset just before) and
# VmRSS after the /16, and the growth VmHWM - VmRSS(before). Traffic goes to 127.0.0.0/8 only.
param(
    [Parameter(Mandatory)][string]$Module,
    [Parameter(Mandatory)][ValidateSet('stream', 'collect')][string]$Mode,
    [string]$Target = '127.1.0.0/16',
    [string]$Warmup = '127.2.1.0/24',
    # Extra parameters for the measured command, e.g. '-ThrottleLimit 65536' (default: none).
    [string]$Extra = ''
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Get-StatusKb([string]$Key) {
    foreach ($line in [IO.File]::ReadAllLines('/proc/self/status')) {
        if ($line.StartsWith("${Key}:")) { return [long]($line.Substring($Key.Length + 1).Trim().Split(' ')[0]) }
    }
    throw "no $Key in /proc/self/status"
}

Import-Module $Module
Invoke-IcmpMultiPing $Warmup -Count 1 -Rate 0 | Out-Null
[GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
$rssBefore = Get-StatusKb VmRSS
$hwmSinceStart = Get-StatusKb VmHWM
# Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+), so the peak below is this command's.
[IO.File]::WriteAllText('/proc/self/clear_refs', '5')
$sweep = "Invoke-IcmpMultiPing $Target -Count 1 -Rate 0 $Extra".Trim()
$command = if ($Mode -eq 'stream') { "$sweep | Out-Null" } else { "`$r = $sweep" }
$sw = [Diagnostics.Stopwatch]::StartNew()
if ($Mode -eq 'stream') {
    Invoke-Expression "$sweep | Out-Null"
    $objects = -1
} else {
    $r = Invoke-Expression $sweep
    $objects = $r.Count
}
$ms = $sw.Elapsed.TotalMilliseconds
$hwm = Get-StatusKb VmHWM
$rssAfter = Get-StatusKb VmRSS
$rec = [ordered]@{
    mode = "pwsh-$Mode"; run = 1; command = $command; wall_ms = [math]::Round($ms, 1); objects = $objects
    rss_before_kb = $rssBefore; hwm_kb = $hwm; rss_after_kb = $rssAfter; growth_kb = $hwm - $rssBefore
    hwm_since_start_before_kb = $hwmSinceStart
    pwsh = $PSVersionTable.PSVersion.ToString()
}
'RESULT ' + ($rec | ConvertTo-Json -Compress)
