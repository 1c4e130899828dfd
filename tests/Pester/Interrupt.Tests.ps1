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
        param([string]$Script, [string]$Marker, [int]$WithinSeconds = 60)
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
            Start-Sleep -Milliseconds 500
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
