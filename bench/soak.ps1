# bench/soak.ps1: a long loopback run that shows whether memory follows the work in flight or grows with
# the probes sent. Not CI: 10 million probes take several minutes. Traffic goes to 127.0.0.0/8 only.
#   dotnet pwsh bench/soak.ps1 -Mode sweep      -Probes 10000000   # /16 sweeps, one after another, -Count 1
#   dotnet pwsh bench/soak.ps1 -Mode continuous -Probes 10000000   # Test-IcmpEcho 127.0.0.1 -Continuous -IntervalSeconds 0
# The command runs in a second runspace of this process; every -SampleSeconds this one records probes done,
# VmRSS and the managed heap (live: GC.GetTotalMemory without a collection; and the heap size after the last
# GC) to bench/results/soak-<mode>.csv, and prints a summary. Bounded by -Probes and by -MaxSeconds.
# So that a drift of RSS can be placed (issue 14), each sample also splits RSS: anonymous, file-backed and shmem
# (the JIT's double-mapped code) from /proc/self/status; the GC's committed bytes (GCMemoryInfo) and its regions
# as resident, and glibc's arenas as resident (both from /proc/self/smaps); glibc's own count of its arenas
# (mallinfo2: in use and free); threads; methods JIT-compiled. Linux with glibc only.
param(
    [ValidateSet('sweep', 'continuous')][string]$Mode = 'sweep',
    [ValidateRange(1, [long]::MaxValue)][long]$Probes = 10000000,
    [ValidateRange(1, 3600)][int]$SampleSeconds = 5,
    [ValidateRange(10, 86400)][int]$MaxSeconds = 3600,
    # Calls malloc_trim(0) after every sample: a diagnostic run that shows the RSS curve without the free memory
    # glibc keeps in its arenas. Without it, malloc_trim runs once, at the end, and the result reports what it freed.
    [switch]$TrimEverySample,
    [string]$Module = (Join-Path $PSScriptRoot '../out/IcmpTools/IcmpTools.psd1')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Get-StatusKb {
    # VmRSS is RssAnon (GC heap, malloc, stacks, the runtime's loader heaps) + RssFile (mapped assemblies and
    # libraries) + RssShmem (the JIT's code, which the runtime maps twice, writable and executable, from a memfd).
    $values = @{}
    foreach ($line in [IO.File]::ReadAllLines('/proc/self/status')) {
        $colon = $line.IndexOf(':')
        if ($colon -gt 0) { $values[$line.Substring(0, $colon)] = $line.Substring($colon + 1).Trim().Split(' ')[0] }
    }
    [pscustomobject]@{ Rss = [long]$values.VmRSS; Anon = [long]$values.RssAnon; File = [long]$values.RssFile; Shmem = [long]$values.RssShmem; Threads = [int]$values.Threads }
}

function Get-AnonymousKb {
    # Two owners of anonymous memory, from /proc/self/smaps. glibc malloc: the main arena ([heap]) and the thread
    # arenas, each a 64 MB reservation aligned to 64 MB: an unnamed read-write mapping at the aligned start (the
    # part in use) followed by an unnamed PROT_NONE one up to the next 64 MB boundary. The GC: its regions sit in
    # one reservation of many GB, so every unnamed mapping in a contiguous run of 1 GB or more is the GC's.
    $malloc = [long]0
    $gc = [long]0
    $pending = $null   # a read-write candidate arena part, counted once the mapping after it confirms it
    $current = $null
    $run = @{ Start = [uint64]0; End = [uint64]0; Rss = [long]0 }
    foreach ($line in [IO.File]::ReadAllLines('/proc/self/smaps')) {
        if ($line -match '^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$') {
            $start = [Convert]::ToUInt64($Matches[1], 16); $end = [Convert]::ToUInt64($Matches[2], 16)
            $perms = $Matches[3]; $name = $Matches[4]
            if ($null -ne $pending -and $name -eq '' -and $perms -eq '---p' -and $start -eq $pending.End -and
                $end -eq $pending.Start + 64MB) {
                $malloc += $pending.Rss
                $run.Rss -= $pending.Rss
            }
            $pending = $null
            if ($name -ne '' -or $start -ne $run.End) {
                if ($run.End - $run.Start -ge 1GB) { $gc += $run.Rss }
                $run = @{ Start = $start; End = $start; Rss = [long]0 }
            }
            $current = @{ Start = $start; End = $end; Rss = [long]0; Named = $name -ne ''; Whole = $name -eq '[heap]'; Arena = $false }
            if ($name -eq '') {
                $run.End = $end
                $current.Arena = $perms -eq 'rw-p' -and $start % 64MB -eq 0 -and $end - $start -le 64MB
                $current.Whole = $current.Arena -and $end - $start -eq 64MB   # an arena grown to its full 64 MB
            }
        }
        elseif ($null -ne $current -and $line.StartsWith('Rss:')) {
            $current.Rss = [long]($line.Substring(4).Trim().Split(' ')[0])
            if ($current.Whole) { $malloc += $current.Rss }
            elseif (-not $current.Named) {
                $run.Rss += $current.Rss
                if ($current.Arena) { $pending = $current }
            }
        }
    }
    if ($run.End - $run.Start -ge 1GB) { $gc += $run.Rss }
    [pscustomobject]@{ Malloc = $malloc; Gc = $gc }
}

# glibc's own account of its arenas: bytes handed out and not freed (a leak grows this) against bytes free
# inside them that it has not given back to the kernel (fragmentation grows this); and malloc_trim, which gives
# the free pages inside every arena back. Bound through Reflection.Emit rather than Add-Type: Add-Type would load
# and run the C# compiler in this process, tens of MB of RSS and JIT work that the soak would then measure.
$libcAssembly = [Reflection.Emit.AssemblyBuilder]::DefineDynamicAssembly([Reflection.AssemblyName]::new('SoakLibC'), 'Run')
$libcModule = $libcAssembly.DefineDynamicModule('SoakLibC')
$mallInfo2Builder = $libcModule.DefineType('SoakMallInfo2', 'Public, Sealed, SequentialLayout', [ValueType])
# size_t is 64 bits on the 64-bit Linux this soak runs on.
foreach ($field in 'Arena', 'OrdBlks', 'SmBlks', 'HBlks', 'HBlkHd', 'UsmBlks', 'FsmBlks', 'UordBlks', 'FordBlks', 'KeepCost') {
    $null = $mallInfo2Builder.DefineField($field, [ulong], 'Public')
}
$mallInfo2 = $mallInfo2Builder.CreateType()
$libcBuilder = $libcModule.DefineType('SoakLibC', 'Public, Sealed, Abstract')
$libcBuilder.DefinePInvokeMethod('mallinfo2', 'libc', 'Public, Static, PinvokeImpl', 'Standard', $mallInfo2, [Type[]]@(),
    'Cdecl', 'Auto').SetImplementationFlags('PreserveSig')
$libcBuilder.DefinePInvokeMethod('malloc_trim', 'libc', 'Public, Static, PinvokeImpl', 'Standard', [int], [Type[]]@([UIntPtr]),
    'Cdecl', 'Auto').SetImplementationFlags('PreserveSig')
$libc = $libcBuilder.CreateType()

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
$csv = Join-Path $results "soak-$Mode$(if ($TrimEverySample) { '-trim' }).csv"
$ps = [powershell]::Create().AddScript($script).AddArgument($Module).AddArgument($Probes).AddArgument($state)
$clock = [Diagnostics.Stopwatch]::StartNew()
$handle = $ps.BeginInvoke()
$samples = [Collections.Generic.List[object]]::new()
$trim = $null
try {
    while (-not $handle.IsCompleted) {
        $null = $handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($SampleSeconds))
        $status = Get-StatusKb
        $gc = [GC]::GetGCMemoryInfo()
        $fullGc = @([GC]::GetGCMemoryInfo([GCKind]::FullBlocking), [GC]::GetGCMemoryInfo([GCKind]::Background)) |
            Sort-Object Index | Select-Object -Last 1
        $mallinfo = $libc::mallinfo2()
        $anonymous = Get-AnonymousKb
        $samples.Add([pscustomobject]@{
            Seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
            Probes = $state.Done
            RssKb = $status.Rss
            LiveHeapKb = [long]([GC]::GetTotalMemory($false) / 1KB)
            HeapAfterGcKb = [long]($gc.HeapSizeBytes / 1KB)
            # The heap after the last GC counts the garbage of older generations that GC did not look at; the
            # last full (gen2) collection's figure is what was alive then.
            HeapAfterFullGcKb = [long]($fullGc.HeapSizeBytes / 1KB)
            FullGcs = [GC]::CollectionCount(2)
            GcCommittedKb = [long]($gc.TotalCommittedBytes / 1KB)
            RssAnonKb = $status.Anon
            RssFileKb = $status.File
            RssShmemKb = $status.Shmem
            GcRssKb = $anonymous.Gc
            MallocKb = $anonymous.Malloc
            MallocInUseKb = [long](($mallinfo.UordBlks + $mallinfo.HBlkHd) / 1KB)
            MallocFreeKb = [long]($mallinfo.FordBlks / 1KB)
            Threads = $status.Threads
            JitMethods = [Runtime.JitInfo]::GetCompiledMethodCount($false)
        })
        $last = $samples[-1]
        Write-Host ("{0,7:n1} s {1,12:n0} probes  RSS {2,8:n0} KB (anon {3,8:n0}, file {4,7:n0}, shmem {11,7:n0})  heap {5,8:n0} KB  after GC {6,8:n0} KB (full {15,8:n0}, {16} gen2)  GC committed {7,8:n0} KB (resident {14,7:n0})  malloc {8,7:n0} KB (in use {12,7:n0}, free {13,7:n0})  threads {9,3}  JIT {10,6:n0}" -f
            $last.Seconds, $last.Probes, $last.RssKb, $last.RssAnonKb, $last.RssFileKb, $last.LiveHeapKb, $last.HeapAfterGcKb,
            $last.GcCommittedKb, $last.MallocKb, $last.Threads, $last.JitMethods, $last.RssShmemKb, $last.MallocInUseKb, $last.MallocFreeKb, $last.GcRssKb, $last.HeapAfterFullGcKb, $last.FullGcs)
        # The continuous ping never ends by itself; the sweep loop ends at the budget. Both end at -MaxSeconds.
        # Before stopping, while the command still runs: how much of RSS was free memory glibc kept.
        if ($state.Done -ge $Probes -or $clock.Elapsed.TotalSeconds -ge $MaxSeconds) {
            if (-not $trim) {
                $before = Get-StatusKb
                $null = $libc::malloc_trim([UIntPtr]::Zero)
                $trim = [ordered]@{ rss_before_trim_kb = $before.Rss; rss_after_trim_kb = (Get-StatusKb).Rss; malloc_after_trim_kb = (Get-AnonymousKb).Malloc }
            }
            $ps.Stop()
        }
        elseif ($TrimEverySample) {
            $null = $libc::malloc_trim([UIntPtr]::Zero)
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
        heap_after_gc_max_kb = $heap.Maximum; heap_after_full_gc_first_kb = $steady[0].HeapAfterFullGcKb
        heap_after_full_gc_last_kb = $steady[-1].HeapAfterFullGcKb; full_gcs = $steady[-1].FullGcs; gc_committed_first_kb = $steady[0].GcCommittedKb; gc_committed_last_kb = $steady[-1].GcCommittedKb
        gc_rss_first_kb = $steady[0].GcRssKb; gc_rss_last_kb = $steady[-1].GcRssKb
        malloc_first_kb = $steady[0].MallocKb; malloc_last_kb = $steady[-1].MallocKb; malloc_in_use_first_kb = $steady[0].MallocInUseKb
        malloc_in_use_last_kb = $steady[-1].MallocInUseKb; shmem_first_kb = $steady[0].RssShmemKb; shmem_last_kb = $steady[-1].RssShmemKb
        trim_every_sample = [bool]$TrimEverySample; csv = $csv
    } + $(if ($trim) { $trim } else { @{} }) | ConvertTo-Json -Compress)
}
