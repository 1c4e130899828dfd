#Requires -Version 7.4
<#
.SYNOPSIS
    Lays out the versioned module folder and packs it into a .nupkg for a PowerShell repository.

.DESCRIPTION
    Copies the built module (out/IcmpTools) into OutputPath/IcmpTools/<version> (the layout
    Install-PSResource and $env:PSModulePath use), adds the LICENSE, checks the manifest with
    Test-ModuleManifest, and packs the folder into OutputPath/IcmpTools.<version>.nupkg with
    Compress-PSResource (Microsoft.PowerShell.PSResourceGet 1.1+, shipped with pwsh 7.4+). Writes the
    folder and the package as FileSystemInfo objects. build.ps1 -Package runs it on out/package.
#>
[CmdletBinding()]
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/IcmpTools'),
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/package')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$manifestPath = Join-Path $ModulePath 'IcmpTools.psd1'
if (-not (Test-Path (Join-Path $ModulePath 'IcmpTools.dll'))) {
    throw "No built module in ${ModulePath}: build first (dotnet pwsh ./build.ps1)."
}
$version = (Import-PowerShellDataFile $manifestPath).ModuleVersion
$versioned = Join-Path $OutputPath "IcmpTools/$version"
if (Test-Path $OutputPath) {
    Remove-Item -LiteralPath $OutputPath -Recurse -Force
}
$null = New-Item -ItemType Directory -Path $versioned -Force
Copy-Item -Path (Join-Path $ModulePath '*') -Destination $versioned -Recurse
Copy-Item -LiteralPath (Join-Path $PSScriptRoot '../LICENSE') -Destination $versioned

$manifest = Test-ModuleManifest -Path (Join-Path $versioned 'IcmpTools.psd1')
if ($manifest.Version -ne [version]$version) {
    throw "The versioned folder holds IcmpTools $($manifest.Version), not $version."
}
Compress-PSResource -Path $versioned -DestinationPath $OutputPath
$nupkg = Join-Path $OutputPath "IcmpTools.$version.nupkg"
if (-not (Test-Path $nupkg)) {
    throw "Compress-PSResource reported success but $nupkg is not there."
}
Get-Item -LiteralPath $versioned, $nupkg
