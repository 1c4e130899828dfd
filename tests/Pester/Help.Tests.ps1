#Requires -Version 7.4

# Get-Help as a user reads it: every exported cmdlet fully documented, and every example that needs only
# loopback run for real in a fresh pwsh, its output compared with the output the help shows.
#
# An example that needs more than this machine's loopback (a lab network, SSH hosts) says so in its
# remarks with a paragraph that starts "Needs "; it is parsed but not run. Every other example is run,
# inside a network namespace with only loopback up, so even a wrongly untagged example cannot send a
# packet anywhere else (and a test below fails if an untagged example names any other address).

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-IcmpToolsManifest) -Force
    $cmdlets = @((Import-PowerShellDataFile (Get-IcmpToolsManifest)).CmdletsToExport)
    $examples = foreach ($cmdlet in $cmdlets) {
        $number = 0
        foreach ($example in @((Get-Help $cmdlet -Full).examples.example)) {
            $number++
            $remarks = @($example.remarks | ForEach-Object Text | Where-Object { $_ })
            # Hashtables, not objects: Pester turns a hashtable's keys into the test's variables.
            @{
                Cmdlet = $cmdlet
                Number = $number
                Title  = ($example.title -replace '^-+\s*|\s*-+$', '')
                Code   = [string]$example.code
                Needs  = @($remarks | Where-Object { $_ -like 'Needs *' }) -join ' '
            }
        }
    }
    $runnable = @($examples | Where-Object { -not $_.Needs })
    if (-not $examples) { throw 'Get-Help found no examples at all.' }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-IcmpToolsManifest) -Force

    function Split-Example {
        <# The code of an example, and the output it shows: the code ends at the first blank line
           outside a here-string. #>
        param([string]$Text)
        $lines = $Text -split '\r?\n'
        $inHereString = $false
        for ($i = 0; $i -lt $lines.Count; $i++) {
            if ($inHereString) {
                if ($lines[$i] -match "^['`"]@") { $inHereString = $false }
                continue
            }
            if ($lines[$i] -match "@['`"]\s*$") { $inHereString = $true; continue }
            if ($lines[$i].Trim() -eq '') {
                return @{ Code = ($lines[0..($i - 1)] -join "`n"); Shown = @($lines | Select-Object -Skip ($i + 1)) }
            }
        }
        @{ Code = $Text; Shown = @() }
    }

    function ConvertTo-Comparable {
        <# A shown or printed line without what varies between runs: numbers, spacing, ruler lines. #>
        param([string]$Line)
        $line = $Line -replace '\d+(\.\d+)?', '#' -replace '\s+', ' '
        $line.Trim()
    }

    function Get-AddressLiteral {
        <# Every IP address the code names (in arguments, strings, blocks and ranges). #>
        param([string]$Code)
        $tokens = $null
        $null = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$null)
        foreach ($token in $tokens) {
            foreach ($piece in ($token.Text.Trim("'", '"') -split '[\s,/]|(?<=\d)-(?=\d)')) {
                $address = $null
                if ($piece -match '[.:]' -and [System.Net.IPAddress]::TryParse($piece, [ref]$address) -and
                    ($piece -match '^\d+\.\d+\.\d+\.\d+$' -or $piece -match ':.*:')) {
                    $address
                }
            }
        }
    }
}

Describe 'Help for <_>' -ForEach $cmdlets {
    BeforeAll {
        $name = $_
        $help = Get-Help $name -Full
        $command = Get-Command $name
        $declared = @($command.Parameters.Keys | Where-Object {
                $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters -and
                $_ -notin [System.Management.Automation.PSCmdlet]::OptionalCommonParameters })
        $documented = @($help.parameters.parameter | ForEach-Object name)
    }

    It 'comes from the MAML file, with a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        # Without MAML, Get-Help makes the synopsis up from the syntax.
        $help.Synopsis | Should -Not -BeLike "$name *"
        ($help.description | ForEach-Object Text) -join ' ' | Should -Match '\w+ \w+ \w+'
    }

    It 'documents every parameter, with a description' {
        $declared | Where-Object { $_ -notin $documented } | Should -BeNullOrEmpty -Because 'each parameter needs a <command:parameter> entry'
        foreach ($parameter in $help.parameters.parameter) {
            ($parameter.description | ForEach-Object Text) -join ' ' | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs a description"
        }
    }

    It 'documents no parameter the cmdlet does not have' {
        $documented | Where-Object { $_ -notin $declared } | Should -BeNullOrEmpty
        $inSyntax = @($help.syntax.syntaxItem | ForEach-Object { $_.parameter } | ForEach-Object name | Sort-Object -Unique)
        $inSyntax | Where-Object { $_ -notin $declared } | Should -BeNullOrEmpty
    }

    It 'has a syntax block for every parameter set' {
        @($help.syntax.syntaxItem).Count | Should -Be @($command.ParameterSets).Count
    }

    It 'documents its inputs and outputs' {
        ($help.inputTypes.inputType.type.name -join ' ') | Should -Not -BeNullOrEmpty
        $outputs = @($help.returnValues.returnValue | ForEach-Object { $_.type.name })
        $outputs | Should -Not -BeNullOrEmpty
        # Every type the cmdlet declares in [OutputType] is described.
        foreach ($type in @($command.OutputType | ForEach-Object Name)) {
            ($outputs -join ' ') | Should -Match ([regex]::Escape(($type -split '\.')[-1])) -Because "[OutputType] declares $type"
        }
    }

    It 'has at least three examples' {
        @($help.examples.example).Count | Should -BeGreaterOrEqual 3
    }

    It 'names the aliases each parameter has (Test-Connection users type -Delay, -Repeat)' {
        foreach ($parameter in $help.parameters.parameter) {
            $real = @($command.Parameters[$parameter.name].Aliases | Sort-Object)
            $shown = @(if ($parameter.aliases -ne 'none') { $parameter.aliases -split ',\s*' | Sort-Object })
            ($shown -join ', ') | Should -Be ($real -join ', ') -Because "-$($parameter.name)'s aliases"
        }
    }

    It 'states the range each parameter validates, where its description gives one' {
        foreach ($parameter in $help.parameters.parameter) {
            $text = ($parameter.description | ForEach-Object Text) -join ' '
            $range = $command.Parameters[$parameter.name].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] }
            if ($range -and $text -match '[Ff]rom (\d[\d,.]*) to (\d[\d,.]*)') {
                # A documented minimum above the attribute's is enforced later (Trace-IcmpRoute -BufferSize 10).
                [double]($Matches[1] -replace ',') | Should -BeGreaterOrEqual ([double]$range.MinRange) -Because "-$($parameter.name): $text"
                [double]($Matches[2] -replace ',') | Should -Be ([double]$range.MaxRange) -Because "-$($parameter.name): $text"
            }
        }
    }

    It 'does not say a raw socket or elevation is required (a datagram socket serves without either)' {
        $text = (($help.description | ForEach-Object Text) + ($help.alertSet.alert | ForEach-Object Text)) -join ' '
        $text | Should -Not -Match 'needs a raw socket|run PowerShell elevated|as Administrator'
    }

    It 'says that help ships with the module' {
        # No HelpInfoURI or HelpUri on purpose: Update-Help and -Online have nothing to fetch.
        ($help.alertSet.alert | ForEach-Object Text) -join ' ' | Should -Match 'ships with the module'
    }
}

Describe 'Example <Number> of <Cmdlet>: <Title>' -ForEach $examples {
    It 'is valid PowerShell' {
        $Code | Should -Not -BeNullOrEmpty
        $parts = Split-Example $Code
        $errors = $null
        $null = [System.Management.Automation.Language.Parser]::ParseInput($parts.Code, [ref]$null, [ref]$errors)
        $errors | Should -BeNullOrEmpty
        $parts.Code | Should -Match $Cmdlet
    }

}

Describe 'Running example <Number> of <Cmdlet>: <Title>' -ForEach $runnable {
    It 'targets only loopback (or its remarks would say what it needs)' {
        $others = @(Get-AddressLiteral (Split-Example $Code).Code | Where-Object { -not [System.Net.IPAddress]::IsLoopback($_) })
        $others | Should -BeNullOrEmpty -Because 'an example that probes other hosts needs a "Needs ..." remark, and is not run'
    }

    It 'runs in a fresh pwsh and prints what the help shows' -Skip:(-not (Test-IsRoot)) {
        $parts = Split-Example $Code
        $run = Invoke-InIsolatedNetwork -Script $parts.Code
        $run.ExitCode | Should -Be 0 -Because "the example failed:`n$($run.Stderr)"
        $run.Stderr | Should -BeNullOrEmpty
        $printed = @($run.Text -split '\r?\n' | ForEach-Object { ConvertTo-Comparable $_ } | Where-Object { $_ -and $_ -notmatch '^[- ]+$' })
        foreach ($line in $parts.Shown | Where-Object { $_.Trim() -and $_.Trim() -ne '...' -and $_ -notmatch '^[- ]+$' }) {
            $printed | Should -Contain (ConvertTo-Comparable $line) -Because "the help shows '$line'; the example printed:`n$($run.Text)"
        }
    }
}

Describe 'about_IcmpTools' {
    BeforeAll {
        $about = Get-Help about_IcmpTools | Out-String
    }

    It 'is installed with the module' {
        $about | Should -Match 'PRIVILEGES'
        $about | Should -Match 'help ships with the module'
    }

    It 'catalogues every ErrorId the cmdlets raise' {
        $ids = [IcmpTools.ErrorIds].GetFields() | Where-Object IsLiteral | ForEach-Object { $_.GetRawConstantValue() }
        $ids | Should -Not -BeNullOrEmpty
        $ids | Where-Object { $about -notmatch "\b$_\b" } | Should -BeNullOrEmpty
    }

    It 'describes every property of <_>' -ForEach @('IcmpTools.Engine.Models.Host', 'IcmpTools.Engine.Models.Reply') {
        $type = [System.Management.Automation.PSTypeName]::new($_).Type
        $type | Should -Not -BeNullOrEmpty
        $type.GetProperties() | ForEach-Object Name | Where-Object { $about -notmatch "\b$_\b" } | Should -BeNullOrEmpty
    }

    It 'lists every exported cmdlet' {
        (Get-Module IcmpTools).ExportedCmdlets.Keys | Where-Object { $about -notmatch "\b$_\b" } | Should -BeNullOrEmpty
    }
}

Describe 'Limits the code sets and the help must state' {
    It 'gives Test-IcmpEcho''s bound on targets in flight as the code has it, in the help and the README' {
        $field = [IcmpTools.Commands.TestIcmpEchoCommand].GetField('MaxTargetsInFlight', [System.Reflection.BindingFlags]'NonPublic, Static')
        $field | Should -Not -BeNullOrEmpty -Because 'the bound is TestIcmpEchoCommand.MaxTargetsInFlight'
        $bound = $field.GetRawConstantValue()
        # Whitespace squeezed: Get-Help and the README wrap their lines anywhere.
        $help = (Get-Help Test-IcmpEcho -Full | Out-String -Width 200) -replace '\s+', ' '
        $help | Should -Match "up to $bound at once"
        ((Get-Help Test-IcmpEcho -Parameter TargetName | Out-String -Width 200) -replace '\s+', ' ') | Should -Match "At most $bound targets are pinged at once"
        (Get-Content -Raw (Join-Path (Get-RepoRoot) 'README.md')) -replace '\s+', ' ' | Should -Match "pings at most $bound targets at once"
    }
}
