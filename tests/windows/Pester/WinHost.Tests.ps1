# The Wine host itself: it must be a Windows PowerShell 7.6 with the in-box modules, or every other
# file here would test Linux again.
BeforeAll {
    $ModuleManifest = $env:ICMPTOOLS_WIN_MODULE
}

Describe 'The Windows PowerShell host under Wine' {
    It 'is PowerShell 7.6 on Windows' {
        $IsWindows | Should -BeTrue
        $IsLinux | Should -BeFalse
        $PSVersionTable.PSVersion.ToString() | Should -Be '7.6.9'
    }

    It 'runs unsigned scripts (execution policy Bypass)' {
        Get-ExecutionPolicy | Should -Be 'Bypass'
    }

    It 'autoloads the in-box modules' {
        (Get-Command Out-String).ModuleName | Should -Be 'Microsoft.PowerShell.Utility'
        (Get-Command Get-ChildItem).ModuleName | Should -Be 'Microsoft.PowerShell.Management'
    }

    It 'imports the built module from out/IcmpTools' {
        $module = Import-Module $ModuleManifest -PassThru -Force
        $module.Name | Should -Be 'IcmpTools'
        (Get-Command -Module IcmpTools).Name | Should -Contain 'Test-IcmpEcho'
    }

    It 'shows the help with its Windows section' {
        $about = Get-Help about_IcmpTools | Out-String
        $about | Should -Match '(?m)^WINDOWS'
        $about | Should -Match 'IcmpSendEcho2Ex'
        (Get-Help Test-IcmpEcho -Parameter Interface | Out-String) | Should -Match 'ifIndex'
    }
}
