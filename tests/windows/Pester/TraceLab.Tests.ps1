# Trace-IcmpRoute on Windows through the lab (tests/netlab): run-wine-tests.sh runs this file inside the
# client namespace of a lab it built, where 198.18.1.1, 198.18.2.2 and 198.18.3.2 are routers and
# 198.18.4.2 the target. Both transports: Wine runs as root (raw Winsock), and -Unprivileged (iphlpapi).
BeforeAll {
    # Lab addresses are only ever probed from inside the lab: without the client's address, stop here.
    $inLab = [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() |
        ForEach-Object { $_.GetIPProperties().UnicastAddresses.Address } | Where-Object { "$_" -eq '198.18.1.2' }
    if (-not $inLab -or -not $env:ICMPTOOLS_WINE_LAB) {
        throw 'TraceLab.Tests.ps1 must run inside a lab client namespace (run-wine-tests.sh does that).'
    }
    Import-Module $env:ICMPTOOLS_WIN_MODULE -Force
}

Describe 'Trace-IcmpRoute in the lab through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false }
    @{ Transport = 'iphlpapi'; Unprivileged = $true }
) {
    It 'shows TimeExceeded from each router, then the target' {
        $hops = @(Trace-IcmpRoute 198.18.4.2 -Unprivileged:$Unprivileged -ErrorVariable failures)
        $failures | Should -BeNullOrEmpty
        $hops | ForEach-Object Distance | Should -Be @(1, 2, 3, 4)
        $hops | ForEach-Object Address | Should -Be @('198.18.1.1', '198.18.2.2', '198.18.3.2', '198.18.4.2')
        $hops | ForEach-Object { $_.Status.ToString() } | Should -Be @('TimeExceeded', 'TimeExceeded', 'TimeExceeded', 'Success')
        $hops | ForEach-Object PacketsSent | Should -Be @(3, 3, 3, 3)
    }

    It 'shows an unreachable target as data: DestinationUnreachable from the router that says so' {
        $hops = @(Trace-IcmpRoute 198.18.12.5 -Unprivileged:$Unprivileged -ErrorVariable failures)
        $failures | Should -BeNullOrEmpty
        $hops[-1].Address | Should -Be '198.18.2.2'
        $hops[-1].Status | Should -Be 'DestinationUnreachable'
    }
}

Describe 'Invoke-IcmpMultiPing in the lab through <Transport>' -ForEach @(
    @{ Transport = 'raw Winsock'; Unprivileged = $false }
    @{ Transport = 'iphlpapi'; Unprivileged = $true }
) {
    It 'finds exactly the answering half of 198.18.20.0/24' {
        # The blackholed half waits out the timeout; 3 s leaves a loaded machine room for the answering half.
        $hosts = @(Invoke-IcmpMultiPing 198.18.20.0/24 -Count 1 -TimeoutSeconds 3 -Unprivileged:$Unprivileged)
        $hosts.Count | Should -Be 254
        $alive = @($hosts | Where-Object IsAlive | ForEach-Object { [int]($_.Address -replace '^.*\.') } | Sort-Object)
        $alive.Count | Should -Be 127
        $alive[0] | Should -Be 1
        $alive[-1] | Should -Be 127
    }
}
