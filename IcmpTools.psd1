@{
    RootModule           = 'IcmpTools.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '3f0c8a52-6a0e-4a53-9f57-6a7b2b8e1d41'
    Author               = 'IcmpTools contributors'
    CompanyName          = 'IcmpTools contributors'
    Copyright            = '(c) IcmpTools contributors.'
    Description          = 'ICMP echo (ping) and multi-host sweeps (fping-style) for PowerShell 7.4+, with a raw-socket engine that streams typed Host and Reply objects.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    CmdletsToExport      = @('Test-IcmpEcho', 'Invoke-IcmpMultiPing', 'New-IcmpSocket', 'New-IcmpRequest')
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    FormatsToProcess     = @('IcmpTools.Format.ps1xml', 'IcmpTools.Socket.Format.ps1xml')
    TypesToProcess       = @('IcmpTools.Types.ps1xml')
    PrivateData          = @{
        PSData = @{
            Tags = @('ICMP', 'ping', 'traceroute', 'fping', 'network', 'Linux')
        }
    }
}
