#Requires -Version 7.4

# What scripts do with the objects: CSV files, JSON, CliXml (which jobs and remoting use), thread jobs,
# background jobs and parallel runspaces. Every property must come back with the same value, and
# Status and Family must stay filterable by name.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $cmdlets = @((Import-PowerShellDataFile (Get-IcmpToolsManifest)).CmdletsToExport)
    $kinds = @(
        @{ Kind = 'Host'; Produce = 'Test-IcmpEcho 127.0.0.1, ::1 -Count 3 -IntervalSeconds 0.05' }
        @{ Kind = 'Reply'; Produce = 'Test-IcmpEcho 127.0.0.1, ::1 -Count 2 -IntervalSeconds 0.05 -PerReply' }
        @{ Kind = 'Hop'; Produce = 'Trace-IcmpRoute 127.0.0.1'; Cmdlet = 'Trace-IcmpRoute' }
    ) | Where-Object { -not $_.Cmdlet -or $_.Cmdlet -in $cmdlets }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $manifest = Get-IcmpToolsManifest
    Import-Module $manifest -Force

    function Get-PropertyText {
        <# A property's value as text that a round trip must preserve: lists joined, numbers invariant. #>
        param($Value)
        if ($null -eq $Value) { return '' }
        if ($Value -is [System.Collections.IEnumerable] -and $Value -isnot [string]) {
            return (@($Value | ForEach-Object { Get-PropertyText $_ }) -join ' ')
        }
        if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('o') }
        if ($Value -is [double] -or $Value -is [single]) { return $Value.ToString('R', [cultureinfo]::InvariantCulture) }
        [string]$Value
    }

    function Get-Property {
        param($InputObject)
        @($InputObject.PSObject.Properties | Where-Object MemberType -EQ 'Property' | ForEach-Object Name)
    }
}

Describe '<Kind> objects in files' -ForEach $kinds {
    BeforeAll {
        $objects = @(Invoke-Expression $Produce)
        $objects | Should -Not -BeNullOrEmpty
        $names = Get-Property $objects[0]
        $work = Join-Path ([IO.Path]::GetTempPath()) (New-UniqueName 'pser')
        $null = New-Item -ItemType Directory -Path $work
    }

    AfterAll {
        Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
    }

    It 'survive Export-Csv and Import-Csv flat, every number parsing back' {
        $csv = Join-Path $work "$Kind.csv"
        $objects | Export-Csv -LiteralPath $csv
        $rows = @(Import-Csv -LiteralPath $csv)
        $rows.Count | Should -Be $objects.Count
        $header = (Get-Content -LiteralPath $csv -TotalCount 1) -replace '"', '' -split ','
        $names | Where-Object { $_ -notin $header } | Should -BeNullOrEmpty -Because 'every property is a column'
        Get-Content -Raw -LiteralPath $csv | Should -Not -Match 'System\.(Collections|Object)' -Because 'no column holds a type name instead of a value'
        for ($i = 0; $i -lt $objects.Count; $i++) {
            foreach ($name in $names) {
                $value = $objects[$i].$name
                $cell = $rows[$i].$name
                if ($value -is [double] -or $value -is [int] -or $value -is [long]) {
                    [double]::Parse($cell, [cultureinfo]::InvariantCulture) | Should -Be ([double]$value) -Because "$name of row $i"
                }
                elseif ($value -is [System.Collections.IEnumerable] -and $value -isnot [string] -and @($value).Count -gt 0 -and @($value)[0] -isnot [double]) {
                    # A list of addresses or links is written space-separated; the same items must come back.
                    @($cell -split ' ' | Where-Object { $_ }) | Should -Be @($value | ForEach-Object ToString) -Because "$name of row $i is '$cell'"
                }
                elseif ($value -is [System.Collections.IEnumerable] -and $value -isnot [string]) {
                    # A list (Rtts) is flattened to its numbers; the same numbers must come back.
                    $numbers = @([regex]::Matches($cell, '-?\d+(\.\d+)?(E-?\d+)?') | ForEach-Object { [double]$_.Value })
                    $numbers.Count | Should -Be @($value).Count -Because "$name of row $i is '$cell'"
                    for ($j = 0; $j -lt $numbers.Count; $j++) {
                        $numbers[$j] | Should -BeGreaterOrEqual (@($value)[$j] - 0.001)
                        $numbers[$j] | Should -BeLessOrEqual (@($value)[$j] + 0.001)
                    }
                }
                elseif ($value -is [datetime]) {
                    ([datetime]::Parse($cell, [cultureinfo]::InvariantCulture)).ToUniversalTime() - $value.ToUniversalTime() |
                        ForEach-Object { [math]::Abs($_.TotalSeconds) } | Should -BeLessThan 1 -Because "$name of row $i is '$cell'"
                }
                else {
                    $cell | Should -Be (Get-PropertyText $value) -Because "$name of row $i"
                }
            }
        }
    }

    It 'survive Export-Clixml and Import-Clixml with every property and value' {
        $xml = Join-Path $work "$Kind.xml"
        $objects | Export-Clixml -LiteralPath $xml
        $back = @(Import-Clixml -LiteralPath $xml)
        $back.Count | Should -Be $objects.Count
        for ($i = 0; $i -lt $objects.Count; $i++) {
            foreach ($name in $names) {
                Get-PropertyText $back[$i].$name | Should -Be (Get-PropertyText $objects[$i].$name) -Because "$name of object $i"
            }
        }
    }

    It 'can be filtered by Status and Family names after Import-Clixml' {
        $xml = Join-Path $work "$Kind-filter.xml"
        $objects | Export-Clixml -LiteralPath $xml
        $back = @(Import-Clixml -LiteralPath $xml)
        $success = @($objects | Where-Object Status -EQ 'Success').Count
        $success | Should -BeGreaterThan 0
        @($back | Where-Object Status -EQ 'Success').Count | Should -Be $success
        if ('Family' -in $names) {
            @($back | Where-Object Family -EQ 'IPv4').Count | Should -Be @($objects | Where-Object Family -EQ 'IPv4').Count
            @($back | Where-Object Family -EQ 'IPv6').Count | Should -Be @($objects | Where-Object Family -EQ 'IPv6').Count
        }
    }

    It 'write enums as names in ConvertTo-Json' {
        $json = @($objects | ConvertTo-Json -Depth 3 | ConvertFrom-Json)
        $json.Count | Should -Be $objects.Count
        $json | ForEach-Object Status | Should -Be @($objects | ForEach-Object { $_.Status.ToString() })
        if ('Family' -in $names) {
            $json | ForEach-Object Family | Should -Be @($objects | ForEach-Object { $_.Family.ToString() })
        }
    }
}

Describe 'Hosts from other runspaces and processes' {
    It 'come back from Start-Job deserialised, filterable by Status' {
        $job = Start-Job -ScriptBlock {
            Import-Module $using:manifest
            Test-IcmpEcho 127.0.0.1, ::1 -Count 2 -IntervalSeconds 0.05
        }
        $hosts = @($job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop)
        $hosts.Count | Should -Be 2
        $hosts[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.IcmpTools.Engine.Models.Host'
        $hosts | ForEach-Object Address | Sort-Object | Should -Be (@('127.0.0.1', '::1') | Sort-Object)
        @($hosts | Where-Object Status -EQ 'Success').Count | Should -Be 2
        $hosts | ForEach-Object PacketsReceived | Should -Be @(2, 2)
        @($hosts | ForEach-Object Rtts | Where-Object { $_ -gt 0 }).Count | Should -Be 4
    }

    It 'come back from Start-ThreadJob as live objects' {
        $job = Start-ThreadJob -ScriptBlock {
            Import-Module $using:manifest
            Test-IcmpEcho 127.0.0.1, ::1 -Count 2 -IntervalSeconds 0.05
        }
        $hosts = @($job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop)
        $hosts.Count | Should -Be 2
        $hosts[0].GetType().FullName | Should -Be 'IcmpTools.Engine.Models.Host'
        @($hosts | Where-Object Status -EQ 'Success').Count | Should -Be 2
    }

    It 'do not interfere across ForEach-Object -Parallel runspaces' {
        # Eight runspaces, each pinging its own address and sweeping its own block at the same time:
        # every reply must reach the runspace whose probe caused it.
        $results = 1..8 | ForEach-Object -ThrottleLimit 8 -Parallel {
            Import-Module $using:manifest
            $n = $_
            $ping = Test-IcmpEcho "127.0.$n.1" -Count 5 -IntervalSeconds 0.02
            $sweep = @(Invoke-IcmpMultiPing "127.1.$n.0/28" -Count 2 -IntervalSeconds 0.02)
            [pscustomobject]@{
                N = $n; Ping = $ping
                Swept = @($sweep | ForEach-Object Address | Sort-Object { [version]$_ })
                Received = @($sweep | ForEach-Object PacketsReceived)
            }
        }
        $results.Count | Should -Be 8
        foreach ($result in $results) {
            $result.Ping.Address | Should -Be "127.0.$($result.N).1"
            $result.Ping.PacketsReceived | Should -Be 5
            $result.Ping.Duplicates | Should -Be 0
            $result.Swept | Should -Be @(1..14 | ForEach-Object { "127.1.$($result.N).$_" })
            $result.Received | Should -Be @(1..14 | ForEach-Object { 2 })
        }
    }
}

Describe 'Timestamps of <Kind> objects' -ForEach @(
    @{ Kind = 'Reply'; Produce = 'Test-IcmpEcho 127.0.0.1, ::1 -Count 2 -IntervalSeconds 0.05 -PerReply' }
    @{ Kind = 'Request'; Produce = 'New-IcmpRequest 127.0.0.1 -Sequence 1; New-IcmpRequest ::1 -Sequence 2' }
) {
    BeforeAll {
        # Taken around the command: the objects' times must lie between (a second's slack for clock reads).
        $before = Get-Date
        $objects = @(Invoke-Expression $Produce)
        $after = Get-Date
        $objects.Count | Should -BeGreaterOrEqual 2
        $iso = '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$'
    }

    It 'are ISO 8601 UTC with milliseconds in ConvertTo-Csv and Export-Csv, whatever the culture' {
        $culture = [cultureinfo]::CurrentCulture
        try {
            # de-DE writes dates day first with dots; en-US month first: neither may reach the file.
            foreach ($name in 'de-DE', 'en-US') {
                [cultureinfo]::CurrentCulture = $name
                $rows = @($objects | ConvertTo-Csv | ConvertFrom-Csv)
                $file = Join-Path ([IO.Path]::GetTempPath()) "$(New-UniqueName 'pcsv').csv"
                try {
                    $objects | Export-Csv -LiteralPath $file
                    $exported = @(Import-Csv -LiteralPath $file)
                }
                finally {
                    Remove-Item -LiteralPath $file -ErrorAction Ignore
                }
                for ($i = 0; $i -lt $objects.Count; $i++) {
                    foreach ($cell in $rows[$i].Timestamp, $exported[$i].Timestamp) {
                        $cell | Should -Match $iso -Because "culture $name wrote '$cell'"
                        $parsed = [datetime]::ParseExact($cell, 'yyyy-MM-ddTHH:mm:ss.fffZ', [cultureinfo]::InvariantCulture,
                            [Globalization.DateTimeStyles]::AdjustToUniversal)
                        $parsed | Should -Be ([datetime]::new($objects[$i].Timestamp.UtcDateTime.Ticks - $objects[$i].Timestamp.UtcDateTime.Ticks % 10000, 'Utc'))
                    }
                }
            }
        }
        finally {
            [cultureinfo]::CurrentCulture = $culture
        }
    }

    It 'stay a time in PowerShell: compared, sorted, subtracted and converted' {
        foreach ($object in $objects) {
            $t = $object.Timestamp
            $t -ge $before.AddSeconds(-1) | Should -BeTrue -Because "$t is after the command started, $($before.ToUniversalTime().ToString('o'))"
            $t -le $after.AddSeconds(1) | Should -BeTrue
            $t -gt (Get-Date).AddDays(1) | Should -BeFalse
            ((Get-Date) - $t) | Should -BeOfType [timespan]
            ($t - $before) | Should -BeOfType [timespan]
            # Local, as PowerShell's own [datetime] of a 'Z' time: see the zone test below for why.
            ([datetime]$t).ToUniversalTime() | Should -Be $t.UtcDateTime
            ([datetime]$t).Kind | Should -Be 'Local'
            $t.UtcDateTime.Kind | Should -Be 'Utc'
            (Get-Date -Date $t).ToUniversalTime() | Should -Be $t.UtcDateTime
            ([datetimeoffset]$t).Offset | Should -Be ([timespan]::Zero)
            "$t" | Should -Match $iso
        }
        $sorted = @($objects | Sort-Object Timestamp -Descending)
        $sorted[0].Timestamp -ge $sorted[-1].Timestamp | Should -BeTrue
        @($objects | Where-Object Timestamp -GE $before.AddSeconds(-1)).Count | Should -Be $objects.Count
    }

    It 'write the full UTC time to ConvertTo-Json' {
        $json = @($objects | ConvertTo-Json | ConvertFrom-Json)
        for ($i = 0; $i -lt $objects.Count; $i++) {
            $json[$i].Timestamp.UtcDateTime | Should -Be $objects[$i].Timestamp.UtcDateTime
            $json[$i].Timestamp.UtcDateTime.Kind | Should -Be 'Utc'
        }
        $objects[0] | ConvertTo-Json -Compress | Should -Match '"Timestamp":\{"UtcDateTime":"\d{4}-\d\d-\d\dT[\d:.]+Z"\}'
    }

    It 'come back from Import-Clixml and remoting depth as the same time' {
        $file = Join-Path ([IO.Path]::GetTempPath()) "$(New-UniqueName 'pxml').xml"
        try {
            $objects | Export-Clixml -LiteralPath $file
            $imported = @(Import-Clixml -LiteralPath $file)
        }
        finally {
            Remove-Item -LiteralPath $file -ErrorAction Ignore
        }
        # Remoting and jobs serialise at depth 1 unless the type asks for more.
        $remoted = @([System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($objects, 1)))
        foreach ($back in $imported, $remoted) {
            for ($i = 0; $i -lt $objects.Count; $i++) {
                $back[$i].Timestamp | Should -BeOfType [IcmpTools.Engine.Models.UtcTimestamp]
                $back[$i].Timestamp -eq $objects[$i].Timestamp | Should -BeTrue
                $back[$i].Timestamp.UtcDateTime | Should -Be $objects[$i].Timestamp.UtcDateTime
            }
        }
    }
}

Describe 'Timestamps against Get-Date in a time zone that is not UTC' {
    It 'compare, subtract and convert by the instant at UTC+05:30' {
        # DateTime compares ticks and ignores its Kind: a UTC value against Get-Date (local) is off by the
        # offset, which a machine on UTC (CI's) cannot show. So a child pwsh runs in Asia/Kolkata.
        '/usr/share/zoneinfo/Asia/Kolkata' | Should -Exist -Because '.ci/run installs tzdata for this test'
        $script = Join-Path ([IO.Path]::GetTempPath()) "$(New-UniqueName 'ptz').ps1"
        Set-Content -LiteralPath $script -Value @'
param($Manifest)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
# 15:50:30.123Z is 21:20:30.123 in Kolkata.
$t = [IcmpTools.Engine.Models.UtcTimestamp]::new([datetime]::new(2026, 12, 7, 15, 50, 30, 123, [DateTimeKind]::Utc))
$local = [datetime]::new(2026, 12, 7, 21, 20, 30, 123, [DateTimeKind]::Local)
$before = Get-Date
$request = (New-IcmpRequest 127.0.0.1).Timestamp
$after = Get-Date
[ordered]@{
    Offset          = [TimeZoneInfo]::Local.GetUtcOffset($local).TotalMinutes
    Text            = "$t"
    LocalMinusT     = ($local - $t).Ticks
    TMinusLocal     = ($t - $local).Ticks
    LocalEqT        = $local -eq $t
    LocalLtT        = $local -lt $t
    EarlierLtT      = $local.AddMilliseconds(-1) -lt $t
    TGtEarlier      = $t -gt $local.AddMilliseconds(-1)
    TLtLater        = $t -lt $local.AddMilliseconds(1)
    GetDate         = (Get-Date -Date $t).ToString('yyyy-MM-dd HH:mm:ss.fff')
    Cast            = ([datetime]$t).ToString('yyyy-MM-dd HH:mm:ss.fff')
    RequestInRun    = ($before.AddSeconds(-1) -le $request) -and ($after.AddSeconds(1) -ge $request) -and ($request -ge $before.AddSeconds(-1))
} | ConvertTo-Json -Compress
'@
        try {
            $run = Invoke-Pwsh -ScriptPath $script -ArgumentList (Get-IcmpToolsManifest) -Environment @{ TZ = 'Asia/Kolkata' }
        }
        finally {
            Remove-Item -LiteralPath $script -ErrorAction Ignore
        }
        $run.ExitCode | Should -Be 0 -Because $run.Stderr
        $seen = $run.Stdout | ConvertFrom-Json -DateKind String
        $seen.Offset | Should -Be 330
        $seen.Text | Should -BeExactly '2026-12-07T15:50:30.123Z'
        $seen.LocalMinusT | Should -Be 0
        $seen.TMinusLocal | Should -Be 0
        $seen.LocalEqT | Should -BeTrue
        $seen.LocalLtT | Should -BeFalse
        $seen.EarlierLtT | Should -BeTrue
        $seen.TGtEarlier | Should -BeTrue
        $seen.TLtLater | Should -BeTrue
        $seen.GetDate | Should -Be '2026-12-07 21:20:30.123'
        $seen.Cast | Should -Be '2026-12-07 21:20:30.123'
        $seen.RequestInRun | Should -BeTrue
    }
}
