#Requires -Version 7.4
<#
.SYNOPSIS
    Cleans, builds, tests and packages IcmpTools.

.DESCRIPTION
    With no switch, builds. Steps run in the order Clean, Build, Test, Package, whatever order the
    switches are given in. Run it with the pinned pwsh: dotnet tool restore; dotnet pwsh ./build.ps1 ...

    -Clean    removes out/ and every project's bin/ and obj/.
    -Build    runs dotnet build on IcmpTools.sln; the build lays the importable module out in out/IcmpTools
              (IL, every platform) and its Linux x64 copy in out/linux-x64/IcmpTools (ReadyToRun, tools/ReadyToRun).
    -Test     builds, runs the xunit projects (TRX results in tests/<project>/TestResults) and then the
              Pester suite in tests/Pester in a child pwsh (NUnit XML in tests/Pester/TestResults); on Linux
              also the Windows tests under Wine (tests/windows/run-wine-tests.sh, results in
              tests/windows/TestResults); it ends
              with one line 'N passed, N failed, N skipped' counted from those result files. Fails when
              a test failed, when no test ran, or when a test was skipped while running as root (every
              test can run as root, so a skip there means a lab or socket test was lost).
    -Package  builds, then lays out the versioned module folder out/package/IcmpTools/<version> and packs
              it into out/package/IcmpTools.<version>.nupkg with Microsoft.PowerShell.PSResourceGet
              (shipped with PowerShell 7.4+).

.EXAMPLE
    dotnet pwsh ./build.ps1 -Test

.EXAMPLE
    dotnet pwsh ./build.ps1 -Clean -Package
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
$packageOut = Join-Path $out 'package'
$pesterResults = Join-Path $root 'tests/Pester/TestResults'

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

function Get-PesterManifest {
    # Pester comes from NuGet (the PowerShell Gallery is not reachable from CI): a restore-only project
    # downloads it, and its assets file says which packages folder it landed in.
    $project = Join-Path $root 'tools/Pester/Pester.csproj'
    Invoke-Native dotnet restore $project --verbosity quiet
    $assets = Get-Content -Raw (Join-Path $root 'tools/Pester/obj/project.assets.json') | ConvertFrom-Json -AsHashtable
    $download = $assets.project.frameworks.Values | ForEach-Object { $_.downloadDependencies } |
        Where-Object name -EQ 'Pester' | Select-Object -First 1
    $version = $download.version -replace '^\[([^,\]]+).*$', '$1'
    foreach ($folder in $assets.packageFolders.Keys) {
        $manifest = Join-Path $folder "pester/$version/tools/Pester.psd1"
        if (Test-Path $manifest) {
            return $manifest
        }
    }
    throw "Pester $version was restored, but no packages folder ($($assets.packageFolders.Keys -join ', ')) holds pester/$version/tools/Pester.psd1."
}

function Get-PwshPath {
    # The pwsh running this script: under 'dotnet pwsh' the process is dotnet itself, so take the apphost
    # that sits in $PSHOME (the same one Start-Job uses).
    $name = if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' }
    $candidate = Join-Path $PSHOME $name
    if (Test-Path $candidate) { $candidate } else { [Environment]::ProcessPath }
}

function Measure-TestResult {
    <# Counts every TRX (dotnet test, the Windows engine tests) and NUnit 3 (Pester) result file under tests/. #>
    $passed = 0; $failed = 0; $skipped = 0
    $skippedNames = [System.Collections.Generic.List[string]]::new()
    # The names of failed tests, printed just above the totals: a CI log is often read from its tail only.
    $failedNames = [System.Collections.Generic.List[string]]::new()
    $files = @(Get-ChildItem -Path (Join-Path $root 'tests') -Recurse -File -Include '*.trx', '*.xml' |
        Where-Object { $_.Directory.Name -eq 'TestResults' })
    $kinds = @{ TRX = 0; Pester = 0 }
    foreach ($file in $files) {
        [xml]$doc = Get-Content -Raw -LiteralPath $file.FullName
        if ($doc.DocumentElement.LocalName -eq 'TestRun') {
            $kinds.TRX++
            foreach ($result in $doc.SelectNodes("//*[local-name()='UnitTestResult']")) {
                switch ($result.outcome) {
                    'Passed' { $passed++ }
                    'NotExecuted' { $skipped++; $skippedNames.Add($result.testName) }
                    default { $failed++; $failedNames.Add("$($result.testName) ($($file.Name))") }
                }
            }
        }
        elseif ($doc.DocumentElement.LocalName -eq 'test-run') {
            $kinds.Pester++
            foreach ($case in $doc.SelectNodes('//test-case')) {
                switch ($case.result) {
                    'Passed' { $passed++ }
                    'Skipped' { $skipped++; $skippedNames.Add($case.fullname) }
                    default { $failed++; $failedNames.Add("$($case.fullname) ($($file.Name))") }
                }
            }
        }
    }
    [pscustomobject]@{
        Passed = $passed; Failed = $failed; Skipped = $skipped; SkippedNames = $skippedNames; FailedNames = $failedNames
        TrxFiles = $kinds.TRX; PesterFiles = $kinds.Pester
    }
}

if (-not ($Clean -or $Build -or $Test -or $Package)) {
    $Build = [switch]$true
}
if ($Package -or $Test) {
    # A package or a test run against an out/ folder left over from an earlier build would be a trap.
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
    foreach ($folder in $moduleOut, (Join-Path $out 'linux-x64/IcmpTools')) {
        if (-not (Test-Path (Join-Path $folder 'IcmpTools.dll'))) {
            throw "The build succeeded but did not lay the module out in $folder."
        }
    }
}

if ($Test) {
    $pester = Get-PesterManifest
    Get-ChildItem -Path (Join-Path $root 'tests') -Directory -Recurse -Filter TestResults |
        Remove-Item -Recurse -Force
    $failures = [System.Collections.Generic.List[string]]::new()

    # Each project writes into its own tests/<project>/TestResults, so two files never share a name.
    Write-Host "> dotnet test $solution -c $Configuration --no-build --logger trx"
    dotnet test $solution -c $Configuration --no-build --logger trx
    if ($LASTEXITCODE) { $failures.Add("dotnet test exited with $LASTEXITCODE") }

    # A child pwsh, so the module the tests import does not stay loaded (and its DLL locked) here.
    $null = New-Item -ItemType Directory -Path $pesterResults -Force
    & (Get-PwshPath) -NoProfile -NonInteractive -Command {
        param($PesterManifest, $Path, $ResultFile)
        Import-Module $PesterManifest
        $config = New-PesterConfiguration
        $config.Run.Path = $Path
        $config.Run.Exit = $true
        $config.Output.Verbosity = 'Detailed'
        $config.TestResult.Enabled = $true
        $config.TestResult.OutputFormat = 'NUnit3'
        $config.TestResult.OutputPath = $ResultFile
        Invoke-Pester -Configuration $config
    } -args $pester, (Join-Path $root 'tests/Pester'), (Join-Path $pesterResults 'Pester.xml')
    if ($LASTEXITCODE) { $failures.Add("Invoke-Pester exited with $LASTEXITCODE (failed tests, blocks or files)") }

    # The Windows half: the same module in a Windows PowerShell host and the engine's Windows transports,
    # under Wine (tests/windows/README.md). Results land in tests/windows/TestResults and count below.
    if ($IsLinux) {
        $env:ICMPTOOLS_PESTER_MANIFEST = $pester
        Write-Host '> bash tests/windows/run-wine-tests.sh'
        bash (Join-Path $root 'tests/windows/run-wine-tests.sh')
        if ($LASTEXITCODE) { $failures.Add("tests/windows/run-wine-tests.sh exited with $LASTEXITCODE") }
    }

    $totals = Measure-TestResult
    if ($totals.TrxFiles -eq 0 -or $totals.PesterFiles -eq 0 -or $totals.Passed + $totals.Failed -eq 0) {
        $failures.Add("missing results: $($totals.TrxFiles) TRX file(s), $($totals.PesterFiles) Pester file(s), $($totals.Passed + $totals.Failed) test(s) run")
    }
    $isRoot = -not $IsWindows -and (id -u) -eq '0'
    if ($totals.Skipped -and $isRoot) {
        $failures.Add("tests were skipped while running as root:`n  " + ($totals.SkippedNames -join "`n  "))
    }
    foreach ($failure in $failures) { Write-Host "FAILED: $failure" }
    foreach ($name in $totals.FailedNames) { Write-Host "FAILED test: $name" }
    # The totals come last, on a line of their own: CI reads them.
    Write-Host "$($totals.Passed) passed, $($totals.Failed) failed, $($totals.Skipped) skipped"
    if ($failures.Count -or $totals.Failed) {
        exit 1
    }
}

if ($Package) {
    $made = & (Join-Path $root 'tools/New-ModulePackage.ps1') -ModulePath $moduleOut -OutputPath $packageOut
    Write-Host "Module folder: $($made[0].FullName)"
    Write-Host "Package:       $($made[1].FullName)"
}
