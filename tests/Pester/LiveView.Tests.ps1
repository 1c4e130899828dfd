#Requires -Version 7.4

# Trace-IcmpRoute's live view as a person sees it: tmux runs pwsh in a lab's client namespace, send-keys
# types the command and Ctrl+C, capture-pane reads the screen. Every target is an address of the lab. tmux runs
# its own server (-S, a socket of its own), so no other tmux session on the machine is touched.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $canRun = (Test-IsRoot) -and [bool](Get-Command tmux -ErrorAction Ignore)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $canRun = (Test-IsRoot) -and [bool](Get-Command tmux -ErrorAction Ignore)
    $manifest = Get-IcmpToolsManifest
    $netlab = Join-Path (Get-RepoRoot) 'tests/netlab/netlab.sh'
    $prefix = if ($env:ICMPTOOLS_LAB_PREFIX) { $env:ICMPTOOLS_LAB_PREFIX } else { 'lvt' }
    $lab = New-UniqueName $prefix
    $session = "$lab-tmux"
    # A server of the test's own, on a socket it removes: no other tmux session on the machine is touched.
    $socket = Join-Path ([IO.Path]::GetTempPath()) "$session.sock"
    $width = 100

    function Get-Screen { @(tmux -S $socket capture-pane -p -t $session) }

    function Wait-Screen {
        # Polls the screen until $Until holds (the network, not a clock of ours, decides when): up to 90 s.
        param([scriptblock]$Until, [string]$What)
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        do {
            $screen = Get-Screen
            if (& $Until $screen) { return $screen }
            Start-Sleep -Milliseconds 200
        } while ([DateTime]::UtcNow -lt $deadline)
        throw "The screen never showed $What; it was:`n$($screen -join "`n")"
    }

    function Get-Round([string[]]$Screen) {
        $line = $Screen | Where-Object { $_ -match '^Trace to 198\.18\.4\.2, round (\d+)' } | Select-Object -Last 1
        if ($line -match 'round (\d+)') { [int]$Matches[1] } else { 0 }
    }

    if ($canRun) {
        & $netlab up $lab | Out-Null
        if ($LASTEXITCODE) { throw "netlab.sh up $lab failed with exit code $LASTEXITCODE." }
        # The lab's AS plan (tests/netlab/README.md) for -ResolveAsn, served by dnsmasq in the target.
        & $netlab dns $lab on | Out-Null
        if ($LASTEXITCODE) { throw "netlab.sh dns $lab on failed with exit code $LASTEXITCODE." }
        tmux -S $socket new-session -d -s $session -x $width -y 40 "ip netns exec $lab-c $(Get-PwshPath) -NoProfile"
        if ($LASTEXITCODE) { throw "tmux new-session failed." }
        $null = Wait-Screen { param($s) ($s -join "`n").TrimEnd() -match 'PS .*> ?$' } 'a prompt'
        tmux -S $socket send-keys -t $session -l "Import-Module '$manifest'; `$PSStyle.OutputRendering = 'PlainText'; Clear-Host"
        tmux -S $socket send-keys -t $session Enter
        $null = Wait-Screen { param($s) ($s | Where-Object { $_.Trim() }).Count -eq 1 } 'a cleared screen'
    }
}

AfterAll {
    if ($canRun) {
        tmux -S $socket kill-server 2>$null
        Remove-Item -LiteralPath $socket -Force -ErrorAction Ignore
        & $netlab down $lab | Out-Null
    }
}

Describe 'Trace-IcmpRoute -Continuous on an interactive console' -Skip:(-not $canRun) {
    BeforeAll {
        tmux -S $socket send-keys -t $session -l 'Trace-IcmpRoute 198.18.4.2 -Continuous -IntervalSeconds 0.2'
        tmux -S $socket send-keys -t $session Enter
        $early = Wait-Screen { param($s) (Get-Round $s) -ge 3 } 'round 3'
        $later = Wait-Screen { param($s) (Get-Round $s) -ge (Get-Round $early) + 3 } 'three more rounds'
        tmux -S $socket send-keys -t $session C-c
        $final = Wait-Screen { param($s) ($s -join "`n").TrimEnd() -match '(?s)Min\(ms\).*PS .*> ?$' } 'the final Hops and a prompt'
    }

    It 'redraws one table in place: one title, one header, each hop once, mtr''s columns' {
        foreach ($screen in $early, $later) {
            @($screen | Where-Object { $_ -match '^Trace to 198\.18\.4\.2' }).Count | Should -Be 1 -Because ($screen -join "`n")
            @($screen | Where-Object { $_ -match '^Hop\s+Address\s+Loss%\s+Sent\s+Last\s+Avg\s+Best\s+Worst\s+StDev$' }).Count | Should -Be 1
            foreach ($address in '198.18.1.1', '198.18.2.2', '198.18.3.2', '198.18.4.2') {
                @($screen | Where-Object { $_ -match "^\s+\d+  $([regex]::Escape($address))\s" }).Count | Should -Be 1 -Because ($screen -join "`n")
            }
        }
        (Get-Round $later) | Should -BeGreaterThan (Get-Round $early)
    }

    It 'keeps every line within the window''s width' {
        $later | Where-Object { $_.TrimEnd().Length -ge $width } | Should -BeNullOrEmpty
    }

    It 'leaves the last table on screen after Ctrl+C and writes the final Hops below it' {
        $text = $final -join "`n"
        $text | Should -Match '(?s)^.*Trace to 198\.18\.4\.2, round \d+.*StDev.*Min\(ms\)'
        $rounds = Get-Round $final
        $rounds | Should -BeGreaterOrEqual (Get-Round $later)
        # The final table: the four hops, each sent once a round (the last round, cut short by Ctrl+C, is not counted).
        $rows = @($final | Where-Object { $_ -match '^\s+[1-4] 198\.18\.[1-4]\.[12]\s+0%\s+(\d+)' })
        $rows.Count | Should -Be 4 -Because $text
        foreach ($row in $rows) {
            $null = $row -match '0%\s+(\d+)'
            [int]$Matches[1] | Should -Be $rounds
        }
    }
}

Describe 'Trace-IcmpRoute -Rounds piped on' -Skip:(-not $canRun) {
    It 'draws no live view, only objects' {
        tmux -S $socket send-keys -t $session -l "Clear-Host; Trace-IcmpRoute 198.18.4.2 -Rounds 3 -IntervalSeconds 0.1 | ForEach-Object { 'hop {0} round {1}' -f `$_.Distance, `$_.Round }"
        tmux -S $socket send-keys -t $session Enter
        $screen = Wait-Screen { param($s) ($s -join "`n").TrimEnd() -match '(?s)hop 4 round 3.*PS .*> ?$' } 'the piped hops'
        ($screen -join "`n") | Should -Not -Match 'Trace to|StDev'
        @($screen | Where-Object { $_ -match '^hop \d round 3$' }).Count | Should -Be 4
    }
}

Describe 'Trace-IcmpRoute -Continuous -ResolveAsn on an interactive console' -Skip:(-not $canRun) {
    BeforeAll {
        # A bound no loaded machine reaches: the lab's server always answers, so every AS it serves arrives.
        tmux -S $socket send-keys -t $session -l 'Clear-Host'
        tmux -S $socket send-keys -t $session Enter
        $null = Wait-Screen { param($s) ($s | Where-Object { $_.Trim() }).Count -eq 1 } 'a cleared screen'
        # Typed on its own line, so that the table starts below the prompt's two lines, as a person sees it: a resize
        # that rewraps the lines above the table leaves on screen whatever the view does not redraw.
        tmux -S $socket send-keys -t $session -l 'Trace-IcmpRoute 198.18.4.2 -Continuous -IntervalSeconds 0.2 -ResolveAsn -AsnServer 198.18.4.2 -AsnTimeoutSeconds 30'
        tmux -S $socket send-keys -t $session Enter
        # A whole table on screen: a capture can come in the middle of a redraw.
        $drawn = { param($s) ($s -join "`n") -match '(?s)^.*\n\s+4  AS\S+ +198\.18\.4\.2 .*\nq or Ctrl\+C' }
        $wide = Wait-Screen { param($s) (Get-Round $s) -ge 2 -and (& $drawn $s) } 'round 2'
        # A narrower window: the next round is drawn to its width (the view reads the size each round).
        $narrowWidth = 60
        tmux -S $socket resize-window -t $session -x $narrowWidth
        $narrow = Wait-Screen { param($s) @($s | Where-Object { $_ -match '^Hop\s+Address\s+Loss%\s+Sent\s+Last\s+Avg$' }).Count -ge 1 -and
            (Get-Round $s) -gt (Get-Round $wide) -and (& $drawn $s) } 'a round drawn at 60 columns'
        tmux -S $socket send-keys -t $session C-c
        $null = Wait-Screen { param($s) ($s -join "`n").TrimEnd() -match '(?s)Min\(ms\).*PS .*> ?$' } 'the final Hops and a prompt'
    }

    AfterAll {
        tmux -S $socket resize-window -t $session -x $width
    }

    It 'shows each address''s AS before it, as mtr -z does, AS??? where none is known' {
        foreach ($screen in $wide, $narrow) {
            $text = $screen -join "`n"
            foreach ($row in @(@(1, 'AS64501', '198.18.1.1'), @(2, 'AS64502', '198.18.2.2'), @(3, 'AS???', '198.18.3.2'), @(4, 'AS64504', '198.18.4.2'))) {
                $distance, $as, $address = $row
                @($screen | Where-Object { $_ -match "^\s+$distance  $([regex]::Escape($as)) +$([regex]::Escape($address))\s+\d+\.\d%" }).Count |
                    Should -Be 1 -Because "hop $distance should show $as $address in:`n$text"
            }
        }
    }

    It 'keeps every line within the window''s width, StDev, Worst and Best giving way to the AS and the address' {
        # The view's lines: the typed command above them fills the window's width by itself.
        $table = { param($s) $s[([array]::FindIndex([string[]]$s, [Predicate[string]] { $args[0] -match '^Trace to' }))..($s.Count - 1)] }
        & $table $wide | Where-Object { $_.TrimEnd().Length -ge $width } | Should -BeNullOrEmpty -Because ($wide -join "`n")
        @($wide | Where-Object { $_ -match '^Hop\s+Address\s+Loss%\s+Sent\s+Last\s+Avg\s+Best\s+Worst\s+StDev$' }).Count | Should -Be 1
        & $table $narrow | Where-Object { $_.TrimEnd().Length -ge $narrowWidth } | Should -BeNullOrEmpty -Because ($narrow -join "`n")
    }

    It 'draws one table after the window was resized, no pieces of the wider one left above it' {
        # tmux rewraps the lines of the wider table when the window narrows; the view starts again on a cleared screen.
        @($narrow | Where-Object { $_ -match '^Trace to 198\.18\.4\.2' }).Count | Should -Be 1 -Because ($narrow -join "`n")
        @($narrow | Where-Object { $_ -match '^Hop\s+Address' }).Count | Should -Be 1 -Because ($narrow -join "`n")
        @($narrow | Where-Object { $_ -match 'AS64501' }).Count | Should -Be 1 -Because ($narrow -join "`n")
    }
}
