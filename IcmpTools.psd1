@{
    RootModule = 'IcmpTools.dll'
    ModuleVersion = '0.1.0'
    GUID = '3f0c8a52-6a0e-4a53-9f57-6a7b2b8e1d41'
    PowerShellVersion = '7.4'
    CmdletsToExport = @('Test-IcmpEcho', 'Invoke-IcmpMultiPing')
    FunctionsToExport = @()
    VariablesToExport = @()
    AliasesToExport = @()
}
