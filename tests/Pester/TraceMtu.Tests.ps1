#Requires -Version 7.4

# Trace-IcmpRoute -Mtu as a user reads it: tracepath's MTU column in the default table, rendered by a real pwsh at
# 80 columns, inside the client namespace of a lab of the test's own (netlab.sh pmtu: r2 -> r3 carries 1400 bytes of
# IPv4 and 1280 of IPv6; 198.18.17.1 / 2001:db8:17::1 lie behind a PMTU black hole; netlab.sh dns serves its AS plan).
# Every target is an address of the lab.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $canRun = Test-IsRoot
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $canRun = Test-IsRoot
    $netlab = Join-Path (Get-RepoRoot) 'tests/netlab/netlab.sh'
    $prefix = if ($env:ICMPTOOLS_LAB_PREFIX) { $env:ICMPTOOLS_LAB_PREFIX } else { 'tmt' }
    $lab = New-UniqueName $prefix
    $script = Join-Path ([IO.Path]::GetTempPath()) "$lab.ps1"

    # One child pwsh renders every trace; each one's text follows a line '### <command>'.
    function Get-Rendered([hashtable]$Text, [string]$Command) {
        @($Text[$Command] -split '\r?\n' | Where-Object { $_.Trim() -and $_ -notmatch '^\s*Target: ' })
    }

    if ($canRun) {
        try {
            & $netlab up $lab | Out-Null
            if ($LASTEXITCODE) { throw "netlab.sh up $lab failed with exit code $LASTEXITCODE." }
            & $netlab pmtu $lab on | Out-Null
            if ($LASTEXITCODE) { throw "netlab.sh pmtu $lab on failed with exit code $LASTEXITCODE." }
            # The lab's AS plan (tests/netlab/README.md) for -Mtu -ResolveAsn, served by dnsmasq in the target.
            & $netlab dns $lab on | Out-Null
            if ($LASTEXITCODE) { throw "netlab.sh dns $lab on failed with exit code $LASTEXITCODE." }
            $commands = @(
                'Trace-IcmpRoute 198.18.16.1 -Mtu'
                'Trace-IcmpRoute 2001:db8:16::1 -Mtu'
                'Trace-IcmpRoute 198.18.17.1 -Mtu'
                'Trace-IcmpRoute 198.18.16.1'
                'Trace-IcmpRoute 198.18.16.1 -Mtu | Format-List'
                # A bound no loaded machine reaches: the lab's server always answers.
                "Trace-IcmpRoute 2001:db8:17::1 -Mtu -ResolveAsn -AsnServer `"[2001:db8:4::2]:53`" -AsnTimeoutSeconds 30"
            )
            Set-Content -LiteralPath $script -Value (@(
                    "Import-Module '$(Get-IcmpToolsManifest)'"
                    "`$PSStyle.OutputRendering = 'PlainText'"
                    foreach ($command in $commands) {
                        "'### $command'"
                        "$command | Out-String -Width 80"
                    }
                ) -join "`n")
            $run = Invoke-Pwsh -ScriptPath $script -Namespace "$lab-c"
            $run.ExitCode | Should -Be 0 -Because $run.Stderr
            $rendered = @{}
            foreach ($part in $run.Stdout -split '(?m)^### ' | Where-Object { $_.Trim() }) {
                $command, $body = $part -split '\r?\n', 2
                $rendered[$command.Trim()] = $body
            }
        }
        finally {
            Remove-Item -LiteralPath $script -Force -ErrorAction Ignore
        }
    }
}

AfterAll {
    if ($canRun) {
        & $netlab down $lab | Out-Null
    }
}

Describe 'Trace-IcmpRoute -Mtu in the default table' -Skip:(-not $canRun) {
    It 'shows tracepath''s column beside the address, within 80 columns, for <Target>' -ForEach @(
        # The narrow link is r2's way out: r2 is still reached at 1500, every hop beyond it at the narrow MTU. In the
        # black hole no router names it: only the destination has the MTU the search found.
        @{ Target = '198.18.16.1'; Rows = @(@('198.18.1.1', 1500), @('198.18.2.2', 1500), @('198.18.3.2', 1400), @('198.18.16.1', 1400)) }
        @{ Target = '2001:db8:16::1'; Rows = @(@('2001:db8:1::1', 1500), @('2001:db8:2::2', 1500), @('2001:db8:3::2', 1280), @('2001:db8:16::1', 1280)) }
        @{ Target = '198.18.17.1'; Rows = @(@('198.18.1.1', 1500), @('198.18.2.2', 1500), @('198.18.3.2', 1500), @('198.18.17.1', 1400)) }
    ) {
        $lines = Get-Rendered $rendered "Trace-IcmpRoute $Target -Mtu"
        $text = $lines -join "`n"
        $lines[0] | Should -Match '^Hop\s+Address\s+Mtu\s+Loss\s+Sent\s+Min\(ms\)\s+Avg\(ms\)\s+Max\(ms\)\s+Status$' -Because $text
        $lines[1] | Should -Match '^[- ]+$'
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
        for ($i = 0; $i -lt $Rows.Count; $i++) {
            $address, $mtu = $Rows[$i]
            # The whole address, then its MTU as the next column: '  3 198.18.3.2   1400   0% ...'.
            @($lines | Where-Object { $_ -match "^\s*$($i + 1) $([regex]::Escape($address))\s+$mtu\s+\d+%" }).Count |
                Should -Be 1 -Because "hop $($i + 1) should be $address at MTU $mtu in:`n$text"
        }
        @($lines | Select-Object -Skip 2).Count | Should -Be $Rows.Count -Because $text
    }

    It 'keeps the table without the column when -Mtu is not given' {
        $lines = Get-Rendered $rendered 'Trace-IcmpRoute 198.18.16.1'
        $lines[0] | Should -Match '^Hop\s+Address\s+Loss\s+Sent\s' -Because ($lines -join "`n")
        $lines[0] | Should -Not -Match '\bMtu\b'
        @($lines | Where-Object { $_ -match '^\s*4 198\.18\.16\.1\s+0%' }).Count | Should -Be 1 -Because ($lines -join "`n")
    }

    It 'keeps the list view for -Mtu hops, Mtu among its properties' {
        $text = $rendered['Trace-IcmpRoute 198.18.16.1 -Mtu | Format-List']
        $text | Should -Match '(?m)^Distance\s+: 3$'
        $text | Should -Match '(?m)^Mtu\s+: 1400$'
        $text | Should -Match '(?m)^MinRtt\s+:'
    }

    It 'shows the AS and the Mtu together with -ResolveAsn, each address whole' {
        $lines = Get-Rendered $rendered "Trace-IcmpRoute 2001:db8:17::1 -Mtu -ResolveAsn -AsnServer `"[2001:db8:4::2]:53`" -AsnTimeoutSeconds 30"
        $text = $lines -join "`n"
        $lines[0] | Should -Match '^Hop\s+AS Address\s+Mtu\s+Loss\s+Sent\s+Avg\(ms\)$' -Because $text
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
        # r1 and r2 have their AS, r3 and the target none (tests/netlab/README.md). A target no trace before this one
        # reached, so no path MTU the kernel cached from it says 1280 before a router does: the black hole's search finds it.
        $rows = @(@(1, 64511, '2001:db8:1::1', 1500), @(2, 64512, '2001:db8:2::2', 1500), @(3, '', '2001:db8:3::2', 1500), @(4, '', '2001:db8:17::1', 1280))
        foreach ($row in $rows) {
            $distance, $asn, $address, $mtu = $row
            @($lines | Where-Object { $_ -match "^\s*$distance\s+$asn $([regex]::Escape($address))\s+$mtu\s+\d+%\s+3\s+\d" }).Count |
                Should -Be 1 -Because "hop $distance should be AS '$asn' $address at MTU $mtu in:`n$text"
        }
        @($lines | Select-Object -Skip 2).Count | Should -Be $rows.Count -Because $text
    }
}
