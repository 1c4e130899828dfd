#Requires -Version 7.4
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }

# The module surface in a real pwsh, the same checks as tests/IcmpTools.Tests (which run in-process).
# Build first (./build.ps1); these tests import the laid-out module from out/IcmpTools.
# Tests that send ICMP need a raw socket (root or CAP_NET_RAW on Linux, elevated on Windows); without
# one they are skipped, and the SocketPermissionDenied error that caused the skip is tested instead.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $manifest = Get-IcmpToolsManifest
    Import-Module $manifest -Force
    $noRawSocket = $false
    try {
        $null = Test-IcmpEcho 127.0.0.1 -Count 1 -TimeoutSeconds 1 -Quiet -ErrorAction Stop
    }
    catch {
        # Any other failure is left for the tests to report.
        $noRawSocket = $_.FullyQualifiedErrorId -like 'SocketPermissionDenied*'
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $manifest = Get-IcmpToolsManifest
    Import-Module $manifest -Force
}

AfterAll {
    Remove-Module IcmpTools -ErrorAction Ignore
}

Describe 'The IcmpTools module' {
    It 'imports from out/IcmpTools with its manifest version' {
        $module = Get-Module IcmpTools
        $module | Should -Not -BeNullOrEmpty
        $module.Version | Should -Be ([version]'0.1.0')
        $module.ModuleBase | Should -BeLike '*out?IcmpTools'
    }

    It 'has a manifest that passes Test-ModuleManifest' {
        $tested = Test-ModuleManifest -Path $manifest -ErrorAction Stop
        $tested.PowerShellVersion | Should -Be ([version]'7.4')
        $tested.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'exports exactly the cmdlets its manifest lists, and at least the ping and the sweep' {
        $listed = (Import-PowerShellDataFile $manifest).CmdletsToExport | Sort-Object
        Get-Command -Module IcmpTools | ForEach-Object Name | Sort-Object | Should -Be $listed
        $listed | Should -Contain 'Test-IcmpEcho'
        $listed | Should -Contain 'Invoke-IcmpMultiPing'
        $listed | Should -Contain 'Trace-IcmpRoute'
    }

    It 'loads the format and types files' {
        $module = Get-Module IcmpTools
        # The ping views, the traceroute's and the socket's (issue 9), each in a file of its own.
        @($module.ExportedFormatFiles | Split-Path -Leaf) | Sort-Object | Should -Be @('IcmpTools.Format.ps1xml', 'IcmpTools.Socket.Format.ps1xml', 'IcmpTools.Trace.Format.ps1xml')
        @($module.ExportedTypeFiles).Count | Should -Be 1
        Get-FormatData -TypeName IcmpTools.Engine.Models.Host | Should -Not -BeNullOrEmpty
        Get-FormatData -TypeName IcmpTools.Engine.Models.Reply | Should -Not -BeNullOrEmpty
        Get-FormatData -TypeName IcmpTools.Engine.Models.Hop | Should -Not -BeNullOrEmpty
        Get-FormatData -TypeName IcmpTools.Engine.Operations.IcmpSocket | Should -Not -BeNullOrEmpty
    }

    # tools/ReadyToRun compiles the two assemblies for the runtime of this pwsh into out/linux-x64/IcmpTools (issues
    # 15 and 16). The runtime takes an image's native code only in its own major format version and for its own OS
    # and architecture: crossgen2 8.0's images (format 9) were ignored by .NET 10 (format 16) without a word, and
    # Windows' runtime refuses a Linux image outright (BadImageFormatException under Wine), so out/IcmpTools, the
    # folder every platform loads, must stay IL. The headers say both; when pwsh moves to a runtime with a new
    # format, the first test fails until tools/ReadyToRun targets that runtime.
    Context 'compiled code' {
        BeforeAll {
            function Get-ReadyToRunHeader([string]$Path) {
                $stream = [IO.File]::OpenRead($Path)
                try {
                    $pe = [Reflection.PortableExecutable.PEReader]::new($stream)
                    $directory = $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory
                    $offset = 0
                    if ($directory.Size -eq 0 -or -not $pe.PEHeaders.TryGetDirectoryOffset($directory, [ref]$offset)) {
                        return 'IL only'
                    }
                    $stream.Position = $offset + 4   # after the 'RTR' signature
                    'format {0}, machine 0x{1:X4}' -f [IO.BinaryReader]::new($stream).ReadUInt16(), [int]$pe.PEHeaders.CoffHeader.Machine
                }
                finally { $stream.Dispose() }
            }
            $neutral = (Get-Module IcmpTools).ModuleBase
            $linuxCopy = Join-Path (Split-Path $neutral) 'linux-x64/IcmpTools'
        }

        It 'has a Linux x64 copy whose assemblies carry ReadyToRun code that this pwsh runs' -Skip:(-not $IsLinux -or [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -ne 'X64') {
            # AMD64 (0x8664) xor the Linux tag (0x7B79), as the runtime's own images are marked.
            $runtime = Get-ReadyToRunHeader ([object].Assembly.Location)
            $runtime | Should -Match '^format \d+, machine 0xFD1D$'
            foreach ($name in 'IcmpTools.dll', 'IcmpTools.Engine.dll') {
                "$name $(Get-ReadyToRunHeader (Join-Path $linuxCopy $name))" | Should -Be "$name $runtime"
            }
        }

        It 'keeps IL only in the folder every platform loads' {
            foreach ($name in 'IcmpTools.dll', 'IcmpTools.Engine.dll') {
                "$name $(Get-ReadyToRunHeader (Join-Path $neutral $name))" | Should -Be "$name IL only"
            }
        }
    }
}

Describe 'Trace-IcmpRoute' {
    It 'traces 127.0.0.1 as one hop, the destination' -Skip:$noRawSocket {
        $hops = @(Trace-IcmpRoute 127.0.0.1 -Count 2)
        $hops.Count | Should -Be 1
        $hops[0].Distance | Should -Be 1
        $hops[0].Status | Should -Be 'Success'
        $hops[0].Rtts.Count | Should -Be 2
    }

    It 'prints its table within 80 columns' -Skip:$noRawSocket {
        $lines = Trace-IcmpRoute 127.0.0.1, ::1 -Count 1 | Out-String -Width 80 -Stream
        $lines | Where-Object { $_.Length -gt 80 } | Should -BeNullOrEmpty
        ($lines -join "`n") | Should -Match 'Hop Address'
    }
}

Describe 'Test-IcmpEcho' {
    It 'returns one Host with two packets received for 127.0.0.1 -Count 2' -Skip:$noRawSocket {
        $result = @(Test-IcmpEcho 127.0.0.1 -Count 2 -IntervalSeconds 0.2)
        $result.Count | Should -Be 1
        $result[0].GetType().FullName | Should -Be 'IcmpTools.Engine.Models.Host'
        $result[0].Address | Should -Be '127.0.0.1'
        $result[0].PacketsSent | Should -Be 2
        $result[0].PacketsReceived | Should -Be 2
        $result[0].IsAlive | Should -BeTrue
        $result[0].PacketLoss | Should -Be 0
    }

    It 'returns $true with -Quiet' -Skip:$noRawSocket {
        $result = @(Test-IcmpEcho 127.0.0.1 -Count 1 -Quiet)
        $result.Count | Should -Be 1
        $result[0] | Should -BeOfType ([bool])
        $result[0] | Should -BeTrue
    }

    It 'returns a Reply per probe, in sequence, with -PerReply' -Skip:$noRawSocket {
        $replies = @(Test-IcmpEcho 127.0.0.1 -Count 2 -PerReply -IntervalSeconds 0.2)
        $replies.Count | Should -Be 2
        $replies[0].GetType().FullName | Should -Be 'IcmpTools.Engine.Models.Reply'
        $replies | ForEach-Object { $_.Status.ToString() } | Should -Be @('Success', 'Success')
        $replies | ForEach-Object Sequence | Should -Be @(1, 2)
        $replies | ForEach-Object Source | Should -Be @('127.0.0.1', '127.0.0.1')
    }

    It 'stops -Continuous when the pipeline needs no more' -Skip:$noRawSocket {
        $replies = @(Test-IcmpEcho 127.0.0.1 -Continuous -IntervalSeconds 0.1 | Select-Object -First 3)
        $replies.Count | Should -Be 3
    }

    It 'writes NameResolutionFailed for a name that does not resolve and still pings the other target' -Skip:(-not (Test-IsRoot)) {
        # In a namespace with only loopback the lookup fails at once, without asking a DNS server.
        $run = Invoke-InIsolatedNetwork -Script @'
Test-IcmpEcho no-such-host.invalid, 127.0.0.1 -Count 1 -ErrorAction SilentlyContinue
Invoke-IcmpMultiPing nothing-here.invalid, 127.0.0.2 -Count 1 -ErrorAction SilentlyContinue
'@
        $run.ExitCode | Should -Be 0 -Because $run.Stderr
        $run.Output | ForEach-Object Address | Should -Be @('127.0.0.1', '127.0.0.2')
        $run.Output | ForEach-Object IsAlive | Should -Be @($true, $true)
        $run.Errors.Count | Should -Be 2
        $run.Errors | ForEach-Object FullyQualifiedErrorId | Should -Be @(
            'NameResolutionFailed,IcmpTools.Commands.InvokeIcmpMultiPingCommand'
            'NameResolutionFailed,IcmpTools.Commands.TestIcmpEchoCommand')
        # Deserialised, the category is flattened into ErrorCategory_* properties.
        $run.Errors | ForEach-Object { $_.ErrorCategory_Message -replace ':.*$' } | Should -Be @('ObjectNotFound', 'ObjectNotFound')
        $run.Errors | ForEach-Object ErrorCategory_Reason | Should -Be @('NameResolutionException', 'NameResolutionException')
        $run.Errors | ForEach-Object TargetObject | Should -Be @('nothing-here.invalid', 'no-such-host.invalid')
    }

    It 'fails parameter binding for -Ttl 0' {
        $failure = { Test-IcmpEcho 127.0.0.1 -Ttl 0 } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError*'
    }

    It 'refuses -Count together with -Continuous' {
        $failure = { Test-IcmpEcho 127.0.0.1 -Count 2 -Continuous } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'AmbiguousParameterSet*'
    }

    It 'refuses -Payload together with -BufferSize' {
        $failure = { Test-IcmpEcho 127.0.0.1 -Payload ([byte[]](1, 2)) -BufferSize 8 } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'ConflictingParameters*'
    }

    It 'stops with SocketPermissionDenied without a raw socket' {
        if (Test-IsRoot) {
            # Root without CAP_NET_RAW in its bounding set cannot open a raw socket either.
            $script = "Import-Module '$manifest'; try { Test-IcmpEcho 127.0.0.1 -Count 1; 'no error' } " +
                'catch { $_.FullyQualifiedErrorId; $_.CategoryInfo.Category.ToString() }'
            $text = & setpriv --bounding-set=-net_raw --inh-caps=-net_raw (Get-PwshPath) -NoProfile -NonInteractive -Command $script
            $LASTEXITCODE | Should -Be 0
            $text | Should -Be @('SocketPermissionDenied,IcmpTools.Commands.TestIcmpEchoCommand', 'PermissionDenied')
        }
        else {
            try {
                $null = Test-IcmpEcho 127.0.0.1 -Count 1 -ErrorAction Stop
            }
            catch {
                $_.FullyQualifiedErrorId | Should -BeLike 'SocketPermissionDenied*'
                $_.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::PermissionDenied)
                return
            }
            Set-ItResult -Skipped -Because 'this pwsh has CAP_NET_RAW but is not root, so the test cannot take it away'
        }
    }
}

Describe 'Invoke-IcmpMultiPing' {
    It 'sweeps 127.0.0.0/30 as two live hosts, skipping network and broadcast' -Skip:$noRawSocket {
        $hosts = @(Invoke-IcmpMultiPing 127.0.0.0/30 -Count 1)
        $hosts.Count | Should -Be 2
        # Not $hosts.Address: on an array that is the array's own Address(int) method, not the property.
        $hosts | ForEach-Object Address | Sort-Object | Should -Be @('127.0.0.1', '127.0.0.2')
        $hosts | ForEach-Object IsAlive | Should -Not -Contain $false
    }

    It 'writes InvalidRange for a range that ends before it starts and still sweeps the other target' -Skip:$noRawSocket {
        $hosts = @(Invoke-IcmpMultiPing '198.18.0.99-198.18.0.10', '127.0.0.1' -Count 1 -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'InvalidRange*'
        $failures[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        $failures[0].TargetObject | Should -Be '198.18.0.99-198.18.0.10'
        $hosts.Count | Should -Be 1
        $hosts[0].Address | Should -Be '127.0.0.1'
    }

    It 'fails parameter binding for -Ttl 0' {
        $failure = { Invoke-IcmpMultiPing 127.0.0.1 -Ttl 0 } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError*'
    }
}
