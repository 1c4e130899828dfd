#Requires -Version 7.4
<#
.SYNOPSIS
    Cleans, builds, tests and packages IcmpTools.

.DESCRIPTION
    With no switch, builds. Steps run in the order Clean, Build, Test, Package, whatever order the
    switches are given in.

    -Clean    removes out/ and every project's bin/ and obj/.
    -Build    runs dotnet build on IcmpTools.sln; the build lays the importable module out in out/IcmpTools.
    -Test     runs dotnet test on IcmpTools.sln, then tests/Pester in a child pwsh when Pester 5 is installed.
    -Package  builds, then packs out/IcmpTools into out/packages/IcmpTools.<version>.nupkg for the
              PowerShell Gallery, with Microsoft.PowerShell.PSResourceGet (shipped with PowerShell 7.4).

.EXAMPLE
    ./build.ps1 -Clean -Build -Test
#>
[CmdletBinding()]
param(
    [switch]$Clean,
    [switch]$Build,
    [switch]$Test,
    [switch]$Package,
    [string]$Configuration = 'Release'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$root = $PSScriptRoot
$solution = Join-Path $root 'IcmpTools.sln'
$out = Join-Path $root 'out'
$moduleOut = Join-Path $out 'IcmpTools'
$packagesOut = Join-Path $out 'packages'

function Invoke-Native {
    # Native programs report failure by exit code, which $ErrorActionPreference does not see.
    $program = $args[0]
    $arguments = @($args | Select-Object -Skip 1)
    Write-Host "> $program $arguments"
    & $program @arguments
    if ($LASTEXITCODE) {
        throw "$program $arguments failed with exit code $LASTEXITCODE."
    }
}

if (-not ($Clean -or $Build -or $Test -or $Package)) {
    $Build = [switch]$true
}
if ($Package) {
    # A package made from an out/ folder left over from an earlier build would be a trap.
    $Build = [switch]$true
}

if ($Clean) {
    $projectDirs = Get-ChildItem -Path $root -Recurse -Filter '*.csproj' | ForEach-Object DirectoryName
    $doomed = @($out) + @($projectDirs | ForEach-Object { Join-Path $_ 'bin'; Join-Path $_ 'obj' })
    foreach ($path in $doomed | Where-Object { Test-Path $_ }) {
        Write-Host "Removing $path"
        Remove-Item -LiteralPath $path -Recurse -Force
    }
}

if ($Build) {
    Invoke-Native dotnet build $solution -c $Configuration
    if (-not (Test-Path (Join-Path $moduleOut 'IcmpTools.dll'))) {
        throw "The build succeeded but did not lay the module out in $moduleOut."
    }
}

if ($Test) {
    Invoke-Native dotnet test $solution -c $Configuration

    $pester = Get-Module -ListAvailable -Name Pester | Where-Object Version -GE ([version]'5.0.0') | Select-Object -First 1
    if ($pester) {
        # A child pwsh, so the module it imports does not stay loaded (and its DLL locked) in this session.
        & ([Environment]::ProcessPath) -NoProfile -NonInteractive -Command {
            param($Path)
            Import-Module Pester -MinimumVersion 5.0.0
            $config = New-PesterConfiguration
            $config.Run.Path = $Path
            $config.Run.Exit = $true
            $config.Output.Verbosity = 'Detailed'
            Invoke-Pester -Configuration $config
        } -args (Join-Path $root 'tests/Pester')
        if ($LASTEXITCODE) {
            throw "tests/Pester failed: Invoke-Pester exited with $LASTEXITCODE."
        }
    }
    else {
        Write-Warning 'Pester 5 is not installed, so tests/Pester did not run (Install-PSResource Pester).'
    }
}

if ($Package) {
    $null = New-Item -ItemType Directory -Path $packagesOut -Force
    if (Get-Command Compress-PSResource -ErrorAction Ignore) {
        # PSResourceGet 1.1+: packs without touching any repository.
        Compress-PSResource -Path $moduleOut -DestinationPath $packagesOut
    }
    elseif (Get-Command Publish-PSResource -ErrorAction Ignore) {
        # PSResourceGet 1.0 packs only while publishing: publish to out/packages through a repository
        # registered for this call alone.
        $repository = 'IcmpToolsBuildOutput'
        if (Get-PSResourceRepository -Name $repository -ErrorAction Ignore) {
            Unregister-PSResourceRepository -Name $repository
        }
        Register-PSResourceRepository -Name $repository -Uri $packagesOut -Trusted
        try {
            Publish-PSResource -Path $moduleOut -Repository $repository
        }
        finally {
            Unregister-PSResourceRepository -Name $repository
        }
    }
    else {
        throw 'Packaging needs Microsoft.PowerShell.PSResourceGet, which ships with PowerShell 7.4 and later: ' +
            'Install-Module Microsoft.PowerShell.PSResourceGet, or run this script with pwsh 7.4+.'
    }
    $version = (Import-PowerShellDataFile (Join-Path $moduleOut 'IcmpTools.psd1')).ModuleVersion
    $nupkg = Join-Path $packagesOut "IcmpTools.$version.nupkg"
    if (-not (Test-Path $nupkg)) {
        throw "Packaging reported success but $nupkg is not there."
    }
    Write-Host "Package: $nupkg"
}
