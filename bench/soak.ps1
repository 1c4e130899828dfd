# bench/soak.ps1: a long loopback run that shows whether memory follows the work in flight or grows with
# the probes sent. Not CI: 10 million probes take several minutes. Traffic goes to 127.0.0.0/8 only.
#   dotnet pwsh bench/soak.ps1 -Mode sweep      -Probes 10000000   # /16 sweeps, one after another, -Count 1
#   dotnet pwsh bench/soak.ps1 -Mode continuous -Probes 10000000   # Test-IcmpEcho 127.0.0.1 -Continuous -IntervalSeconds 0
# The command runs in a second runspace of this process; every -SampleSeconds this one records probes done,
# VmRSS and the managed heap (live: GC.GetTotalMemory without a collection; and the heap size after the last
# GC) to bench/results/soak-<mode>.csv, and prints a summary. Bounded by -Probes and by -MaxSeconds.
param(
    [ValidateSet('sweep', 'continuous')][string]$Mode = 'sweep',
    [ValidateRange(1, [long]::MaxValue)][long]$Probes = 10000000,
    [ValidateRange(1, 3600)][int]$SampleSeconds = 5,
    [ValidateRange(10, 86400)][int]$MaxSeconds = 3600,
    [string]$Module = (Join-Path $PSScriptRoot '../out/IcmpTools/IcmpTools.psd1')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Get-RssKb {
    foreach ($line in [IO.File]::ReadAllLines('/proc/self/status')) {
        if ($line.StartsWith('VmRSS:')) { return [long]($line.Substring(6).Trim().Split(' ')[0]) }
    }
}

$Module = (Resolve-Path $Module).Path
$state = [hashtable]::Synchronized(@{ Done = [long]0 })
$script = switch ($Mode) {
    # One /16 after another (65,534 probes each), until the budget is spent: the sweep's per-command state
    # (tables, channels, leases) must be released each time, and its per-host state as hosts finish.
    'sweep' {
        {
            param($Module, $Probes, $State)
            Import-Module $Module
            for ($block = 0; $State.Done -lt $Probes; $block++) {
                Invoke-IcmpMultiPing "127.$(1 + $block % 250).0.0/16" -Count 1 -Rate 0 -TimeoutSeconds 2 |
                    ForEach-Object { $State.Done++ }
            }
        }
    }
    # One endless ping, every reply counted, stopped after the budget: memory must follow probes in flight.
    'continuous' {
        {
            param($Module, $Probes, $State)
            Import-Module $Module
            Test-IcmpEcho 127.0.0.1 -Continuous -IntervalSeconds 0 -TimeoutSeconds 2 |
                ForEach-Object { $State.Done++ }
        }
    }
}

$results = Join-Path $PSScriptRoot 'results'
$null = New-Item -ItemType Directory -Force -Path $results
$csv = Join-Path $results "soak-$Mode.csv"
$ps = [powershell]::Create().AddScript($script).AddArgument($Module).AddArgument($Probes).AddArgument($state)
$clock = [Diagnostics.Stopwatch]::StartNew()
$handle = $ps.BeginInvoke()
$samples = [Collections.Generic.List[object]]::new()
try {
    while (-not $handle.IsCompleted) {
        $null = $handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($SampleSeconds))
        $samples.Add([pscustomobject]@{
            Seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
            Probes = $state.Done
            RssKb = Get-RssKb
            LiveHeapKb = [long]([GC]::GetTotalMemory($false) / 1KB)
            HeapAfterGcKb = [long]([GC]::GetGCMemoryInfo().HeapSizeBytes / 1KB)
        })
        $last = $samples[-1]
        Write-Host ("{0,7:n1} s {1,12:n0} probes  RSS {2,8:n0} KB  heap {3,8:n0} KB  after GC {4,8:n0} KB" -f
            $last.Seconds, $last.Probes, $last.RssKb, $last.LiveHeapKb, $last.HeapAfterGcKb)
        # The continuous ping never ends by itself; the sweep loop ends at the budget. Both end at -MaxSeconds.
        if ($state.Done -ge $Probes -or $clock.Elapsed.TotalSeconds -ge $MaxSeconds) {
            $ps.Stop()
        }
    }
    if ($ps.HadErrors) {
        $ps.Streams.Error | ForEach-Object { Write-Warning $_ }
    }
}
finally {
    $ps.Dispose()
}
$samples | Export-Csv -NoTypeInformation -Path $csv
# The first sample includes start-up (module load, JIT, first sockets): the curve is judged from the second.
$steady = @($samples | Select-Object -Skip 1)
if ($steady.Count -ge 2) {
    $rss = $steady | Measure-Object RssKb -Minimum -Maximum
    $heap = $steady | Measure-Object HeapAfterGcKb -Minimum -Maximum
    'RESULT ' + ([ordered]@{
        mode = $Mode; probes = $state.Done; seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1); samples = $samples.Count
        rss_first_kb = $steady[0].RssKb; rss_last_kb = $steady[-1].RssKb; rss_min_kb = $rss.Minimum; rss_max_kb = $rss.Maximum
        heap_after_gc_first_kb = $steady[0].HeapAfterGcKb; heap_after_gc_last_kb = $steady[-1].HeapAfterGcKb
        heap_after_gc_max_kb = $heap.Maximum; csv = $csv
    } | ConvertTo-Json -Compress)
}
