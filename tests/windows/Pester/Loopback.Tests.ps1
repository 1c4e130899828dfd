# The module in a Windows PowerShell under Wine, as Administrator (Wine runs as root here, so raw Winsock
# sockets open) and with -Unprivileged (iphlpapi). run-wine-tests.sh runs this file in a network namespace
# of its own with only loopback up: every probe goes to 127.0.0.0/8, and a name lookup fails at once.
BeforeAll {
    Import-Module $env:ICMPTOOLS_WIN_MODULE -Force
}

Describe 'Test-IcmpEcho on Windows through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false; Privileged = $true }
    @{ Transport = 'iphlpapi'; Unprivileged = $true; Privileged = $false }
) {
    It 'names the transport in -Verbose' {
        $verbose = Test-IcmpEcho 127.0.0.1 -Count 1 -Unprivileged:$Unprivileged -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message -join "`n" | Should -Match "IPv4 \($Transport\)"
    }

    It 'pings 127.0.0.1 twice and says which transport it used' {
        $result = @(Test-IcmpEcho 127.0.0.1 -Count 2 -IntervalSeconds 0.2 -Unprivileged:$Unprivileged)
        $result.Count | Should -Be 1
        $result[0].GetType().FullName | Should -Be 'IcmpTools.Engine.Models.Host'
        $result[0].Status | Should -Be 'Success'
        $result[0].PacketsSent | Should -Be 2
        $result[0].PacketsReceived | Should -Be 2
        $result[0].IsPrivileged | Should -Be $Privileged
        $result[0].Rtts.Count | Should -Be 2
    }

    It 'returns one Reply per probe, in sequence, with -PerReply' {
        $replies = @(Test-IcmpEcho 127.0.0.1 -Count 3 -IntervalSeconds 0.2 -PerReply -Unprivileged:$Unprivileged)
        $replies | ForEach-Object { $_.Status.ToString() } | Should -Be @('Success', 'Success', 'Success')
        $replies | ForEach-Object Sequence | Should -Be @(1, 2, 3)
        $replies | ForEach-Object Source | Should -Be @('127.0.0.1', '127.0.0.1', '127.0.0.1')
    }

    It 'answers $true with -Quiet' {
        Test-IcmpEcho 127.0.0.1 -Count 1 -Quiet -Unprivileged:$Unprivileged | Should -BeExactly $true
    }
}

Describe 'Invoke-IcmpMultiPing on Windows through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false; Privileged = $true; Block = '127.13.1.0/24' }
    @{ Transport = 'iphlpapi'; Unprivileged = $true; Privileged = $false; Block = '127.13.2.0/24' }
) {
    It 'sweeps <Block>: 254 live hosts, network and broadcast left out' {
        # A generous timeout costs nothing when every host answers (the sweep ends with the last answer),
        # and keeps a loaded machine, where Wine's receive path lags, from reading late answers as lost.
        $hosts = @(Invoke-IcmpMultiPing $Block -Count 1 -TimeoutSeconds 10 -Unprivileged:$Unprivileged)
        $hosts.Count | Should -Be 254
        # Each dead host with what became of it, so a failure says why.
        $hosts | Where-Object { -not $_.IsAlive } | ForEach-Object { "$($_.Address): $($_.Status) code $($_.Code)" } |
            Should -BeNullOrEmpty
        $prefix = $Block -replace '0/24$'
        $hosts | ForEach-Object Address | Sort-Object { [version]$_ } | Select-Object -First 1 -Last 1 |
            Should -Be @("${prefix}1", "${prefix}254")
        $hosts | ForEach-Object IsPrivileged | Select-Object -Unique | Should -Be $Privileged
    }

    It 'keeps only the answering hosts with -Alive' {
        $hosts = @(Invoke-IcmpMultiPing 127.13.3.0/30 -Count 1 -TimeoutSeconds 10 -Alive -Unprivileged:$Unprivileged)
        $hosts | ForEach-Object Address | Sort-Object | Should -Be @('127.13.3.1', '127.13.3.2')
    }
}

Describe 'Trace-IcmpRoute on Windows through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false }
    @{ Transport = 'iphlpapi'; Unprivileged = $true }
) {
    It 'traces 127.0.0.1 as one hop, the destination' {
        $hops = @(Trace-IcmpRoute 127.0.0.1 -Count 2 -Unprivileged:$Unprivileged)
        $hops.Count | Should -Be 1
        $hops[0].Distance | Should -Be 1
        $hops[0].Address | Should -Be '127.0.0.1'
        $hops[0].Status | Should -Be 'Success'
        $hops[0].Rtts.Count | Should -Be 2
    }
}

Describe 'What iphlpapi cannot do, said plainly' {
    It 'warns once that a trace cannot hold one flow per probe' {
        $hops = @(Trace-IcmpRoute 127.0.0.1 -Count 1 -Unprivileged -WarningVariable warnings -WarningAction SilentlyContinue)
        $hops.Count | Should -Be 1
        $warnings.Count | Should -Be 1
        "$($warnings[0])" | Should -Match 'cannot hold one flow per probe'
    }

    It 'does not warn on the raw socket' {
        $null = Trace-IcmpRoute 127.0.0.1 -Count 1 -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings | Should -BeNullOrEmpty
    }

    It 'refuses -Multipath with TransportCapabilityMissing' {
        $hops = @(Trace-IcmpRoute 127.0.0.1 -Multipath -Unprivileged -ErrorVariable failures -ErrorAction SilentlyContinue)
        $hops | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'TransportCapabilityMissing,IcmpTools.Commands.TraceIcmpRouteCommand'
        $failures[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        $failures[0].TargetObject | Should -Be '127.0.0.1'
        $failures[0].Exception.Message | Should -Match 'elevated'
    }

    It 'traces with -Multipath on the raw socket' {
        $hops = @(Trace-IcmpRoute 127.0.0.1 -Multipath -ErrorVariable failures)
        $failures | Should -BeNullOrEmpty
        $hops[-1].Status | Should -Be 'Success'
    }
}

Describe 'Typed errors on Windows' {
    It 'writes NameResolutionFailed for a name that does not resolve and still pings the other target' {
        $result = @(Test-IcmpEcho no-such-host.invalid, 127.0.0.1 -Count 1 -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'NameResolutionFailed,IcmpTools.Commands.TestIcmpEchoCommand'
        $failures[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $failures[0].TargetObject | Should -Be 'no-such-host.invalid'
        $result.Count | Should -Be 1
        $result[0].Address | Should -Be '127.0.0.1'
        $result[0].IsAlive | Should -BeTrue
    }

    It 'writes InvalidRange for a range that ends before it starts and still sweeps the other target' {
        $hosts = @(Invoke-IcmpMultiPing '127.0.0.99-127.0.0.10', '127.0.0.1' -Count 1 -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidRange,IcmpTools.Commands.InvokeIcmpMultiPingCommand'
        $failures[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        $failures[0].TargetObject | Should -Be '127.0.0.99-127.0.0.10'
        $hosts | ForEach-Object Address | Should -Be @('127.0.0.1')
    }

    It 'fails parameter binding for -Ttl 0' {
        $failure = { Test-IcmpEcho 127.0.0.1 -Ttl 0 } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError*'
    }

    It 'stops with SocketUnavailable for an interface that does not exist' {
        $failure = { Test-IcmpEcho 127.0.0.1 -Count 1 -Interface 'No Such Adapter' -ErrorAction Stop } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'SocketUnavailable,IcmpTools.Commands.TestIcmpEchoCommand'
        $failure.TargetObject | Should -Be 'No Such Adapter'
    }
}

Describe '-Interface the Windows way' {
    BeforeAll {
        # Wine lists the namespace's loopback as an adapter with a Windows alias and an ifIndex.
        $loopback = [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() |
            Where-Object NetworkInterfaceType -EQ Loopback | Select-Object -First 1
        $alias = $loopback.Name
        $index = $loopback.GetIPProperties().GetIPv4Properties().Index
    }

    It 'pings through the loopback adapter named by <_>' -ForEach 'alias', 'index' {
        $value = if ($_ -eq 'alias') { $alias } else { "$index" }
        $result = Test-IcmpEcho 127.0.0.1 -Count 1 -Interface $value
        $result.Status | Should -Be 'Success'
    }

    It 'completes the alias and the index' {
        $line = "Test-IcmpEcho 127.0.0.1 -Interface $($alias.Substring(0, 2))"
        $byAlias = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $byAlias.CompletionMatches.CompletionText | Should -Contain $alias
        $line = "Test-IcmpEcho 127.0.0.1 -Interface $index"
        $byIndex = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $byIndex.CompletionMatches.CompletionText | Should -Contain "$index"
    }
}

Describe 'New-IcmpSocket on Windows through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false; Privileged = $true }
    @{ Transport = 'iphlpapi'; Unprivileged = $true; Privileged = $false }
) {
    It 'sends requests built with New-IcmpRequest and receives each reply by its request' {
        $s = New-IcmpSocket -Unprivileged:$Unprivileged
        try {
            $s.IsPrivileged | Should -Be $Privileged
            $a = New-IcmpRequest 127.0.0.1 -Identifier 999 -Sequence 1 -PayloadSize 20
            $b = New-IcmpRequest 127.0.0.1 -Identifier 999 -Sequence 2 -Payload ([byte[]](9, 8, 7))
            $s.Send($a); $s.Send($b)
            # Generous waits: they end at the reply, and Wine's completions lag on a loaded machine.
            $second = $s.Receive($b, 10)
            $first = $s.Receive($a, [timespan]::FromSeconds(10))
        }
        finally { $s.Close() }
        $s.IsClosed | Should -BeTrue
        $second.GetType().FullName | Should -Be 'IcmpTools.Engine.Models.Reply'
        $second.Status | Should -Be 'Success'
        $second.Sequence | Should -Be 2
        $second.BytesReceived | Should -Be (8 + 3)
        $first.Sequence | Should -Be 1
        $first.BytesReceived | Should -Be (8 + 20)
        $first.Source | Should -Be '127.0.0.1'
        $first.IsPrivileged | Should -Be $Privileged
    }

    It 'reaches 127.0.0.2 from a socket bound to -Source 127.0.0.1' {
        $s = New-IcmpSocket -Source 127.0.0.1 -Unprivileged:$Unprivileged
        try {
            $q = New-IcmpRequest 127.0.0.2 -Sequence 5
            $s.Send($q)
            $reply = $s.Receive($q, 10)
        }
        finally { $s.Close() }
        $reply.Status | Should -Be 'Success'
        $reply.Source | Should -Be '127.0.0.2'
    }

    It 'refuses a request of the other family with FamilyMismatch' {
        $s = New-IcmpSocket -Unprivileged:$Unprivileged
        try {
            $failure = { $s.Send((New-IcmpRequest ::1)) } | Should -Throw -PassThru
        }
        finally { $s.Close() }
        $failure.Exception.GetBaseException().GetType().Name | Should -Be 'AddressFamilyMismatchException'
    }
}

Describe '-Source on Windows through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false }
    @{ Transport = 'iphlpapi'; Unprivileged = $true }
) {
    It 'pings from the address -Source names' {
        $result = Test-IcmpEcho 127.0.0.3 -Count 1 -Source 127.0.0.1 -TimeoutSeconds 10 -Unprivileged:$Unprivileged
        $result.Status | Should -Be 'Success'
        $result.Address | Should -Be '127.0.0.3'
    }

    It 'stops with InvalidSourceAddress naming a -Source this machine does not have' {
        # 198.18.99.99 is on no interface of this namespace (only lo is up). Windows refuses to bind it; Wine binds
        # it, so this is the module's own check (SourceAddress.Validate) that Wine runs here.
        $failure = { Test-IcmpEcho 127.0.0.1 -Count 1 -Source 198.18.99.99 -Unprivileged:$Unprivileged -ErrorAction Stop } |
            Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'InvalidSourceAddress,IcmpTools.Commands.TestIcmpEchoCommand'
        $failure.Exception.Message | Should -Match '198\.18\.99\.99'
    }
}
