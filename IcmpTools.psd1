@{
    RootModule           = 'IcmpTools.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '3f0c8a52-6a0e-4a53-9f57-6a7b2b8e1d41'
    Author               = 'IcmpTools contributors'
    CompanyName          = 'IcmpTools contributors'
    Copyright            = '(c) 2026 IcmpTools contributors. MIT License.'
    Description          = 'ICMP echo (ping), multi-host sweeps (fping-style) and traceroute for PowerShell 7.4+, on a raw-socket engine that streams typed, serialisable Host and Reply objects. Linux.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    # Explicit lists: PowerShell then knows the commands without loading the DLL (fast auto-loading,
    # Get-Command before Import-Module), and nothing exported by accident.
    CmdletsToExport      = @('Test-IcmpEcho', 'Invoke-IcmpMultiPing', 'Trace-IcmpRoute', 'New-IcmpSocket', 'New-IcmpRequest')
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    FormatsToProcess     = @('IcmpTools.Format.ps1xml', 'IcmpTools.Trace.Format.ps1xml', 'IcmpTools.Socket.Format.ps1xml')
    TypesToProcess       = @('IcmpTools.Types.ps1xml')
    # Loaded before the types file is read: it names an engine type (TargetTypeForDeserialization of
    # UtcTimestamp), which PowerShell must resolve then, before the root module has loaded the engine.
    RequiredAssemblies   = @('IcmpTools.Engine.dll')
    # No HelpInfoURI: the full help (en-US/IcmpTools.dll-Help.xml, about_IcmpTools) ships inside the
    # module, so Update-Help has nothing to fetch. See about_IcmpTools, HELP.
    PrivateData          = @{
        PSData = @{
            Tags         = @('ICMP', 'ping', 'fping', 'traceroute', 'sweep', 'network', 'monitoring', 'Linux', 'PSEdition_Core')
            ProjectUri   = 'https://icmptools.invalid/IcmpTools'
            LicenseUri   = 'https://icmptools.invalid/IcmpTools/LICENSE'
            ReleaseNotes = @'
0.1.0
- Test-IcmpEcho: ping one or more hosts; a Host summary per target, a Reply per probe (-PerReply,
  -Continuous) or a Boolean per target (-Quiet).
- Invoke-IcmpMultiPing: fping-style sweeps of names, addresses, CIDR blocks and IPv4 ranges, one Host
  per address as it finishes.
- Own raw-socket ICMP/ICMPv6 engine (Linux): exact reply matching, kernel receive timestamps.
- Objects survive Export-Csv, ConvertTo-Json, CliXml, jobs and remoting; full help ships in the module.
'@
        }
    }
}
