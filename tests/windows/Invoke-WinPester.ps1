<#
.SYNOPSIS
    Runs Pester files inside the Windows PowerShell host under Wine (WinPwshHost.exe) and exits with the
    number of failed tests, blocks and containers (0 = green).
.DESCRIPTION
    run-wine-tests.sh calls it once per network namespace: the loopback files in the root namespace,
    the lab files inside the lab's client namespace. Paths arrive as Windows paths (Z:\...).
#>
param(
    [Parameter(Mandatory)][string]$PesterManifest,
    [Parameter(Mandatory)][string[]]$Path,
    [Parameter(Mandatory)][string]$ResultFile
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

Import-Module $PesterManifest
$config = New-PesterConfiguration
# The host hands every argument over as one string: several files arrive comma-separated.
$config.Run.Path = @($Path -split ',')
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
# The host prints through its own streams; ANSI colours would only be noise in the CI log.
$config.Output.RenderMode = 'Plaintext'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnit3'
$config.TestResult.OutputPath = $ResultFile
$run = Invoke-Pester -Configuration $config
$failed = $run.FailedCount + $run.FailedBlocksCount + $run.FailedContainersCount
if ($run.TotalCount -eq 0) {
    Write-Host 'Invoke-WinPester: no test ran.'
    $failed++
}
exit $failed
