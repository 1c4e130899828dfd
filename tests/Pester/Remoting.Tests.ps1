#Requires -Version 7.4

# Scale-out is PowerShell remoting: two lab namespaces run Debian's sshd with the pwsh subsystem
# (tests/netlab/sshlab.sh), and a client namespace sweeps from both at once with Invoke-Command -HostName.
# Every target is an address of the lab or loopback.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $manifest = Get-IcmpToolsManifest
    Import-Module $manifest -Force
    $sshlab = Join-Path (Get-RepoRoot) 'tests/netlab/sshlab.sh'
    $lab = New-UniqueName 'psl'
    $work = Join-Path ([IO.Path]::GetTempPath()) $lab
    $null = New-Item -ItemType Directory -Path $work
    $state = $null
    if (Test-IsRoot) {
        $state = & $sshlab up $lab (Get-PwshPath)
        if ($LASTEXITCODE) { throw "sshlab.sh up $lab failed with exit code $LASTEXITCODE." }
    }
}

AfterAll {
    if (Test-IsRoot) { & $sshlab down $lab }
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
}

Describe 'Invoke-Command -HostName a, b over SSH in the lab' -Skip:(-not (Test-IsRoot)) {
    BeforeAll {
        # The client runs in the lab's client namespace, so it is a separate pwsh; it hands what it
        # received back through CliXml, together with what it saw of the objects as they arrived.
        $client = Join-Path $work 'client.ps1'
        Set-Content -LiteralPath $client -Value @'
param($State, $Manifest, $Results)
$ErrorActionPreference = 'Stop'
$received = Invoke-Command -HostName 198.18.200.2, 198.18.200.3 -UserName root -KeyFilePath "$State/client" `
    -Options @{ UserKnownHostsFile = "$State/known_hosts"; StrictHostKeyChecking = 'yes'; BatchMode = 'yes' } `
    -ScriptBlock {
        Import-Module $using:Manifest
        Invoke-IcmpMultiPing 198.18.200.0/29, 198.18.201.1, 127.0.0.1 -Count 2 -IntervalSeconds 0.1 -TimeoutSeconds 1
    }
$received | Export-Clixml -LiteralPath "$Results.hosts.xml"
[pscustomobject]@{
    TypeNames     = @($received | ForEach-Object { $_.PSObject.TypeNames[0] } | Sort-Object -Unique)
    SuccessCount  = @($received | Where-Object Status -EQ 'Success').Count
    IPv4Count     = @($received | Where-Object Family -EQ 'IPv4').Count
    Groups        = @($received | Group-Object Address | ForEach-Object {
            [pscustomobject]@{ Address = $_.Name; From = @($_.Group | ForEach-Object PSComputerName | Sort-Object); Alive = @($_.Group | Where-Object IsAlive | ForEach-Object PSComputerName | Sort-Object) }
        })
} | Export-Clixml -LiteralPath "$Results.facts.xml"
'@
        $results = Join-Path $work 'results'
        $run = Invoke-Pwsh -ScriptPath $client -ArgumentList $state, $manifest, $results -Namespace "$lab-c" -TimeoutSeconds 240
        $run.ExitCode | Should -Be 0 -Because "the client failed:`n$($run.Stderr)`n$($run.Stdout)"
        $hosts = @(Import-Clixml "$results.hosts.xml")
        $facts = Import-Clixml "$results.facts.xml"
        $local = Test-IcmpEcho 127.0.0.1 -Count 1
    }

    It 'brings back one Host per address from each vantage point, tagged with PSComputerName' {
        $hosts.Count | Should -Be 16
        ($hosts | Group-Object PSComputerName | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) |
            Should -Be @('198.18.200.2=8', '198.18.200.3=8')
    }

    It 'delivers them as deserialised Host objects with every property intact' {
        $facts.TypeNames | Should -Be @('Deserialized.IcmpTools.Engine.Models.Host')
        $names = @($local.PSObject.Properties | Where-Object MemberType -EQ 'Property' | ForEach-Object Name)
        foreach ($received in $hosts) {
            $received.PSObject.Properties.Name | Should -Contain 'PSComputerName'
            foreach ($name in $names) {
                $received.PSObject.Properties.Name | Should -Contain $name
            }
        }
        $alive = @($hosts | Where-Object IsAlive)
        $alive | ForEach-Object PacketsReceived | Should -Not -Contain 0
        $alive | ForEach-Object { @($_.Rtts).Count } | Should -Not -Contain 0
        $alive | ForEach-Object AvgRtt | Where-Object { -not ($_ -gt 0) } | Should -BeNullOrEmpty
    }

    It 'keeps Status and Family filterable by name across the wire' {
        # 198.18.200.1-3 and 127.0.0.1 answer both; 198.18.201.1 only answers a (its own loopback).
        $facts.SuccessCount | Should -Be 9
        $facts.IPv4Count | Should -Be 16
    }

    It 'merges the two views with Group-Object Address and tells them apart' {
        $groups = @($facts.Groups)
        $groups.Count | Should -Be 8
        foreach ($group in $groups) {
            $group.From | Should -Be @('198.18.200.2', '198.18.200.3') -Because "$($group.Address) was swept from both"
        }
        $alive = @{}
        foreach ($group in $groups) { $alive[$group.Address] = @($group.Alive) -join ',' }
        foreach ($address in '127.0.0.1', '198.18.200.1', '198.18.200.2', '198.18.200.3') {
            $alive[$address] | Should -Be '198.18.200.2,198.18.200.3' -Because "$address answers both"
        }
        $alive['198.18.201.1'] | Should -Be '198.18.200.2' -Because 'only a can reach its own loopback address'
        foreach ($address in '198.18.200.4', '198.18.200.5', '198.18.200.6') {
            $alive[$address] | Should -Be '' -Because "$address is not in the lab"
        }
    }
}
