#Requires -Version 7.4

# The manifest, and the gallery path a user takes: pack the module (tools/New-ModulePackage.ps1, what
# build.ps1 -Package runs), publish it to a local file repository, install it from there, import the
# installed copy by name and ping loopback. All of it in child pwsh processes whose HOME is
# temporary, so the user's own repositories and modules are never touched.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $manifest = Get-IcmpToolsManifest
    $work = Join-Path ([IO.Path]::GetTempPath()) (New-UniqueName 'ppkg')
    $null = New-Item -ItemType Directory -Path $work
    # Only HOME: PSResourceGet installs under $HOME/.local/share even when XDG_DATA_HOME is set, while
    # pwsh would then look under XDG_DATA_HOME, so the XDG variables are removed rather than moved.
    # PSModulePath is removed too: the child builds it from the sandbox HOME, not from this process.
    $sandbox = @{
        HOME = Join-Path $work 'home'; XDG_DATA_HOME = $null; XDG_CONFIG_HOME = $null; XDG_CACHE_HOME = $null
        PSModulePath = $null
    }
    foreach ($folder in @($sandbox.HOME)) { $null = New-Item -ItemType Directory -Path $folder -Force }
}

AfterAll {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
}

Describe 'The module manifest' {
    BeforeAll {
        $tested = Test-ModuleManifest -Path $manifest -ErrorAction Stop
        $data = Import-PowerShellDataFile $manifest
    }

    It 'passes Test-ModuleManifest for PowerShell 7.4+ Core' {
        $tested.PowerShellVersion | Should -Be ([version]'7.4')
        $tested.CompatiblePSEditions | Should -Be @('Core')
        $tested.Version | Should -BeGreaterThan ([version]'0.0')
    }

    It 'exports its cmdlets by name, and nothing else' {
        $data.CmdletsToExport | Should -Not -BeNullOrEmpty
        $data.CmdletsToExport | Should -Not -Contain '*'
        $data.FunctionsToExport | Should -BeNullOrEmpty
        $data.AliasesToExport | Should -BeNullOrEmpty
        $data.VariablesToExport | Should -BeNullOrEmpty
        $tested.ExportedCmdlets.Keys | Sort-Object | Should -Be ($data.CmdletsToExport | Sort-Object)
    }

    It 'has gallery metadata: tags, project and licence links, release notes' {
        $tested.Tags | Should -Contain 'ICMP'
        $tested.Tags | Should -Contain 'ping'
        $tested.ProjectUri | Should -Not -BeNullOrEmpty
        $tested.LicenseUri | Should -Not -BeNullOrEmpty
        $tested.ReleaseNotes | Should -Match $tested.Version.ToString()
        Join-Path (Get-RepoRoot) 'LICENSE' | Should -Exist
    }
}

Describe 'Installing from a local repository' -Skip:(-not (Test-IsRoot)) {
    BeforeAll {
        $package = Join-Path $work 'package'
        $made = & (Join-Path (Get-RepoRoot) 'tools/New-ModulePackage.ps1') -ModulePath (Split-Path $manifest) -OutputPath $package
        $version = (Import-PowerShellDataFile $manifest).ModuleVersion

        $publish = Join-Path $work 'publish.ps1'
        Set-Content -LiteralPath $publish -Value @'
param($Folder, $Repository)
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name IcmpToolsTestRepo -Uri $Repository -Trusted
Publish-PSResource -Path $Folder -Repository IcmpToolsTestRepo
$found = Find-PSResource -Name IcmpTools -Repository IcmpToolsTestRepo
Install-PSResource -Name IcmpTools -Repository IcmpToolsTestRepo -Scope CurrentUser -TrustRepository
"found $($found.Version)"
'@
        $use = Join-Path $work 'use.ps1'
        Set-Content -LiteralPath $use -Value @'
$ErrorActionPreference = 'Stop'
Import-Module IcmpTools
$module = Get-Module IcmpTools
"base $($module.ModuleBase)"
"version $($module.Version)"
"alive $((Test-IcmpEcho 127.0.0.1 -Count 1).IsAlive)"
"help $((Get-Help Test-IcmpEcho).Synopsis -ne '')"
'@
        $repository = Join-Path $work 'repo'
        $null = New-Item -ItemType Directory -Path $repository
        $published = Invoke-Pwsh -ScriptPath $publish -ArgumentList $made[0].FullName, $repository -Environment $sandbox -WorkingDirectory $work
        $used = Invoke-Pwsh -ScriptPath $use -Environment $sandbox -WorkingDirectory $work
    }

    It 'packs a versioned module folder and a .nupkg' {
        $made[0].FullName | Should -BeLike "*IcmpTools?$version"
        Join-Path $made[0].FullName 'IcmpTools.psd1' | Should -Exist
        Join-Path $made[0].FullName 'en-US/IcmpTools.dll-Help.xml' | Should -Exist
        $made[1].Name | Should -Be "IcmpTools.$version.nupkg"
        $made[1].Length | Should -BeGreaterThan 10KB
    }

    It 'publishes to a file repository and finds it there' {
        $published.ExitCode | Should -Be 0 -Because $published.Stderr
        $published.Stdout | Should -Match "found $([regex]::Escape($version))"
        Join-Path $repository "IcmpTools.$version.nupkg" | Should -Exist
    }

    It 'installs for the current user, imports by name and pings 127.0.0.1' {
        $used.ExitCode | Should -Be 0 -Because $used.Stderr
        $used.Stdout | Should -Match ('base ' + [regex]::Escape($sandbox.HOME) + '.*IcmpTools.' + [regex]::Escape($version))
        $used.Stdout | Should -Match "version $([regex]::Escape($version))"
        $used.Stdout | Should -Match 'alive True'
        $used.Stdout | Should -Match 'help True'
    }
}
