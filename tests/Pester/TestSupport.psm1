# Shared by the tests/Pester files: where the module is, how to run a child pwsh, and how to run one
# inside a network namespace of its own (only loopback up), so that nothing it does can reach another
# host: a name lookup fails at once instead of asking the machine's DNS server.

Set-StrictMode -Version Latest

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:ModuleRoot = Join-Path $script:RepoRoot 'out'
$script:ManifestPath = Join-Path $script:ModuleRoot 'IcmpTools/IcmpTools.psd1'

function Get-RepoRoot { $script:RepoRoot }

function Get-IcmpToolsManifest { $script:ManifestPath }

function Test-IsRoot { -not $IsWindows -and (id -u) -eq '0' }

function Get-PwshPath {
    # Under 'dotnet pwsh' the process is dotnet itself; the apphost in $PSHOME is pwsh proper.
    $name = if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' }
    $candidate = Join-Path $PSHOME $name
    if (Test-Path $candidate) { $candidate } else { [Environment]::ProcessPath }
}

function New-UniqueName {
    param([string]$Prefix)
    # Short enough for interface and namespace names, unique across processes and runs.
    '{0}{1}-{2}' -f $Prefix, $PID, (Get-Random -Minimum 1000 -Maximum 9999)
}

function Invoke-Pwsh {
    <#
    .SYNOPSIS
        Runs a script file in a fresh pwsh and returns its exit code, stdout and stderr.
    .PARAMETER Namespace
        Run it inside this network namespace (ip netns exec).
    .PARAMETER Environment
        Extra environment variables for the child; a $null value removes the variable.
    #>
    param(
        [Parameter(Mandatory)][string]$ScriptPath,
        [string[]]$ArgumentList = @(),
        [string]$Namespace,
        [string]$WorkingDirectory = (Get-Location).Path,
        [hashtable]$Environment = @{},
        [int]$TimeoutSeconds = 300
    )
    $start = [System.Diagnostics.ProcessStartInfo]::new()
    $pwshArguments = @('-NoProfile', '-NonInteractive', '-File', $ScriptPath) + $ArgumentList
    if ($Namespace) {
        $start.FileName = 'ip'
        foreach ($a in @('netns', 'exec', $Namespace, (Get-PwshPath)) + $pwshArguments) { $start.ArgumentList.Add($a) }
    }
    else {
        $start.FileName = Get-PwshPath
        foreach ($a in $pwshArguments) { $start.ArgumentList.Add($a) }
    }
    $start.WorkingDirectory = $WorkingDirectory
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.RedirectStandardInput = $true
    foreach ($key in $Environment.Keys) {
        # $null removes a variable: an empty one is not the same (NuGet reads an empty XDG_CONFIG_HOME
        # as a relative path and writes NuGet/NuGet.Config into the working directory).
        if ($null -eq $Environment[$key]) { $null = $start.Environment.Remove($key) }
        else { $start.Environment[$key] = [string]$Environment[$key] }
    }
    $process = [System.Diagnostics.Process]::Start($start)
    try {
        $process.StandardInput.Close()
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        # A generous limit: the child waits on the network, not on a clock of ours.
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $process.Kill($true)
            throw "pwsh -File $ScriptPath did not finish in $TimeoutSeconds s."
        }
        [pscustomobject]@{ ExitCode = $process.ExitCode; Stdout = $stdout.Result; Stderr = $stderr.Result }
    }
    finally {
        $process.Dispose()
    }
}

function Invoke-InIsolatedNetwork {
    <#
    .SYNOPSIS
        Runs a script block in a fresh pwsh inside a new network namespace that has only loopback.
    .DESCRIPTION
        The block runs with IcmpTools on $env:PSModulePath (auto-loaded, as for an installed module) and
        PlainText output. Returns Output (the objects the block wrote, through CliXml), Errors (the error
        records it wrote, through CliXml), Text (the block's output as the console would show it at
        80 columns), Stderr and ExitCode. Needs root.
    #>
    param(
        [Parameter(Mandatory)][string]$Script,
        [string]$WorkingDirectory
    )
    $namespace = New-UniqueName 'ptl'
    $work = if ($WorkingDirectory) { $WorkingDirectory } else { Join-Path ([IO.Path]::GetTempPath()) $namespace }
    $null = New-Item -ItemType Directory -Path $work -Force
    $runner = Join-Path $work '.runner.ps1'
    $body = Join-Path $work '.body.ps1'
    Set-Content -LiteralPath $body -Value $Script
    Set-Content -LiteralPath $runner -Value @'
param($Body, $Results)
$PSStyle.OutputRendering = 'PlainText'
$output = [System.Collections.Generic.List[object]]::new()
$Error.Clear()
$terminated = $null
try {
    # The body's objects are both kept (for CliXml) and shown as a user would see them.
    . $Body | ForEach-Object { $output.Add($_); $_ } | Out-Default
}
catch {
    $terminated = $_
}
$output | Export-Clixml -LiteralPath "$Results.out.xml" -Depth 4
@($Error) | Export-Clixml -LiteralPath "$Results.err.xml" -Depth 2
if ($terminated) { Write-Error -ErrorRecord $terminated -ErrorAction Continue; exit 2 }
'@
    $null = ip netns add $namespace
    if ($LASTEXITCODE) { throw "ip netns add $namespace failed." }
    try {
        $null = ip -n $namespace link set lo up
        if ($LASTEXITCODE) { throw "ip -n $namespace link set lo up failed." }
        $results = Join-Path $work '.results'
        $run = Invoke-Pwsh -ScriptPath $runner -ArgumentList $body, $results -Namespace $namespace -WorkingDirectory $work `
            -Environment @{ PSModulePath = "$script:ModuleRoot$([IO.Path]::PathSeparator)$env:PSModulePath" }
        $output = if (Test-Path "$results.out.xml") { @(Import-Clixml "$results.out.xml") } else { @() }
        $errors = if (Test-Path "$results.err.xml") { @(Import-Clixml "$results.err.xml") } else { @() }
        [pscustomobject]@{
            Output = $output; Errors = $errors; Text = $run.Stdout; Stderr = $run.Stderr; ExitCode = $run.ExitCode
        }
    }
    finally {
        $null = ip netns del $namespace
        if (-not $WorkingDirectory) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore }
    }
}

Export-ModuleMember -Function Get-RepoRoot, Get-IcmpToolsManifest, Test-IsRoot, Get-PwshPath, New-UniqueName,
    Invoke-Pwsh, Invoke-InIsolatedNetwork
