# A standard (unelevated) Windows user cannot open a raw socket. run-wine-tests.sh runs this file as root
# without CAP_NET_RAW, in a namespace with only loopback and ping sockets closed, so Wine's raw Winsock
# sockets fail as they do for a non-Administrator. Wine's own iphlpapi needs one of those sockets too, so
# here it cannot deliver a probe; what this file proves is the selection rule: no error for lack of
# elevation, the iphlpapi transport chosen, and said so. (Its probes working is Loopback.Tests.ps1's
# -Unprivileged half, run as root.)
BeforeAll {
    Import-Module $env:ICMPTOOLS_WIN_MODULE -Force
}

Describe 'IcmpTools without elevation' {
    It 'cannot open a raw socket here (the premise of this file)' {
        $failure = { [System.Net.Sockets.Socket]::new('InterNetwork', 'Raw', 'Icmp') } | Should -Throw -PassThru
        $failure.Exception.GetBaseException().SocketErrorCode | Should -BeIn @('AccessDenied', 'ProtocolNotSupported', 'SocketNotSupported')
    }

    It 'falls back to iphlpapi with no error for lack of elevation, and says so' {
        $output = Test-IcmpEcho 127.0.0.1 -Count 1 -TimeoutSeconds 1 -Verbose -ErrorVariable failures 4>&1
        $verbose = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        $result = @($output | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $failures | Should -BeNullOrEmpty
        $result.Count | Should -Be 1
        $result[0].IsPrivileged | Should -BeFalse
        $verbose.Message -join "`n" | Should -Match 'IPv4 \(iphlpapi\)'
    }

    It 'sweeps with the same rule: every host reported, none as an error' {
        $hosts = @(Invoke-IcmpMultiPing 127.13.4.0/29 -Count 1 -TimeoutSeconds 1 -ErrorVariable failures)
        $failures | Should -BeNullOrEmpty
        $hosts.Count | Should -Be 6
        $hosts | ForEach-Object IsPrivileged | Select-Object -Unique | Should -BeFalse
    }
}
