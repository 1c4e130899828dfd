# Ctrl+C in a real pwsh (issue 14, from the trial): a child pwsh runs the script, the test waits for the
# line that says the long part has begun, sends SIGINT (what the terminal sends for Ctrl+C) and reads what
# the child wrote before it exited. Loopback only.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:canRun = (Test-IsRoot) -and (Test-Path (Get-IcmpToolsManifest))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:manifest = Get-IcmpToolsManifest

    function Invoke-Interrupted {
        # Runs $Script in a child pwsh; once it has written $Marker, sends SIGINT. Returns its stdout and
        # whether it exited by itself within $WithinSeconds of the signal (the limit bounds a hang; a
        # working Ctrl+C ends it at once).
        param([string]$Script, [string]$Marker, [int]$WithinSeconds = 60, [double]$SettleSeconds = 0.5)
        $file = Join-Path ([IO.Path]::GetTempPath()) ("icmptools-int-{0}.ps1" -f [guid]::NewGuid().ToString('N'))
        Set-Content -LiteralPath $file -Value ("`$PSStyle.OutputRendering = 'PlainText'`nImport-Module '$script:manifest'`n" + $Script)
        $start = [System.Diagnostics.ProcessStartInfo]::new((Get-PwshPath))
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.RedirectStandardInput = $true
        $process = [System.Diagnostics.Process]::Start($start)
        try {
            $process.StandardInput.Close()
            $stderr = $process.StandardError.ReadToEndAsync()
            $lines = [System.Collections.Generic.List[string]]::new()
            while ($null -ne ($line = $process.StandardOutput.ReadLine())) {
                $lines.Add($line)
                if ($line -eq $Marker) { break }
            }
            # The marker is written just before the long call: give the call a moment to begin waiting.
            Start-Sleep -Seconds $SettleSeconds
            $null = kill -INT $process.Id
            $rest = $process.StandardOutput.ReadToEndAsync()
            $exited = $process.WaitForExit($WithinSeconds * 1000)
            if (-not $exited) { $process.Kill($true); $process.WaitForExit() }
            [pscustomobject]@{
                Exited = $exited
                Stdout = ($lines -join "`n") + "`n" + $rest.Result
                Stderr = $stderr.Result
            }
        }
        finally {
            $process.Dispose()
            Remove-Item -LiteralPath $file -ErrorAction Ignore
        }
    }
}

Describe 'Ctrl+C' -Skip:(-not $canRun) {
    It 'ends a long $socket.Receive at once' {
        $run = Invoke-Interrupted -Marker 'waiting' -Script @'
$s = New-IcmpSocket
'waiting'
$s.Receive(3600)
'not reached'
'@
        $run.Exited | Should -BeTrue -Because $run.Stderr
        $run.Stdout | Should -Not -Match 'not reached'
    }
}

Describe 'Ctrl+C during a ping' -Skip:(-not $canRun) {
    # PowerShell writes nothing down a stopped pipeline, so the summary goes to the console, as ping
    # prints its statistics on Ctrl+C.
    It 'still prints the summary of what Test-IcmpEcho -Count sent' {
        $run = Invoke-Interrupted -Marker 'pinging' -SettleSeconds 3 -Script @'
'pinging'
Test-IcmpEcho 127.0.0.1 -Count 1000 -IntervalSeconds 0.1
'@
        $run.Exited | Should -BeTrue -Because $run.Stderr
        # -match, not Should -Match: the test reads the groups from $Matches.
        $run.Stdout -match '127\.0\.0\.1: (\d+) sent, (\d+) received, [\d.]+% loss, rtt min/avg/max ' | Should -BeTrue -Because $run.Stdout
        [int]$Matches[1] | Should -BeLessThan 1000
        [int]$Matches[2] | Should -BeGreaterThan 0
    }

    It 'still prints the summary at the end of -Continuous' {
        $run = Invoke-Interrupted -Marker 'pinging' -SettleSeconds 3 -Script @'
'pinging'
Test-IcmpEcho ::1 -Continuous -IntervalSeconds 0.1 | ForEach-Object { 'REPLY {0}' -f $_.Status }
'@
        $run.Exited | Should -BeTrue -Because $run.Stderr
        $replies = @($run.Stdout -split "`n" | Where-Object { $_ -like 'REPLY *' }).Count
        $run.Stdout -match '::1: (\d+) sent, (\d+) received' | Should -BeTrue -Because $run.Stdout
        [int]$Matches[2] | Should -BeGreaterOrEqual $replies
    }
}
