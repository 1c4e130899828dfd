#Requires -Version 7.4
<#
.SYNOPSIS
    Brings the MAML help's syntax and parameter entries in line with the built cmdlets.

.DESCRIPTION
    The help (en-US/IcmpTools.dll-Help.xml) is written by hand: synopsis, descriptions, examples. What
    the cmdlets themselves know is not: their parameter sets, which parameters are mandatory, positional,
    take pipeline input or have aliases, and their types. This script imports the built module, and for
    every exported cmdlet rewrites the <command:syntax> block (one syntax item per parameter set) and the
    attributes and types of every <command:parameter> from Get-Command, keeping each description.

    A parameter the help does not know yet gets an entry with an empty description, and a cmdlet the
    help does not know gets a skeleton entry; tests/Pester/Help.Tests.ps1 fails until both are written.
    Entries for parameters the cmdlet no longer has are removed. Run it after changing a cmdlet's
    parameters:

        dotnet pwsh ./build.ps1; dotnet pwsh -NoProfile ./tools/Update-HelpSyntax.ps1
#>
[CmdletBinding()]
param(
    [string]$ModulePath = (Join-Path $PSScriptRoot '../out/IcmpTools/IcmpTools.psd1'),
    [string]$HelpPath = (Join-Path $PSScriptRoot '../en-US/IcmpTools.dll-Help.xml')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters

$doc = [System.Xml.XmlDocument]::new()
$doc.PreserveWhitespace = $false
$doc.Load((Resolve-Path $HelpPath).Path)
$manager = [System.Xml.XmlNamespaceManager]::new($doc.NameTable)
foreach ($prefix in $ns.Keys) { $manager.AddNamespace($prefix, $ns[$prefix]) }
$manager.AddNamespace('msh', 'http://msh')

function New-Element([string]$Qualified, [string]$Text) {
    $prefix, $local = $Qualified -split ':'
    $element = $doc.CreateElement($prefix, $local, $ns[$prefix])
    if ($PSBoundParameters.ContainsKey('Text')) { $element.InnerText = $Text }
    $element
}

function Get-TypeName([type]$Type) {
    # MAML shows short names: String[], Int32, SwitchParameter.
    if ($Type.IsArray) { return (Get-TypeName $Type.GetElementType()) + '[]' }
    $Type.Name
}

function Get-PipelineText([System.Management.Automation.ParameterSetMetadata[]]$Sets) {
    $byValue = $Sets | Where-Object ValueFromPipeline
    $byName = $Sets | Where-Object ValueFromPipelineByPropertyName
    if ($byValue -and $byName) { 'True (ByPropertyName, ByValue)' }
    elseif ($byValue) { 'True (ByValue)' }
    elseif ($byName) { 'True (ByPropertyName)' }
    else { 'False' }
}

function Set-ParameterElement {
    param($Element, $Parameter, [System.Management.Automation.ParameterSetMetadata[]]$Sets, [string]$Description, [string]$DefaultValue)
    $positions = @($Sets | ForEach-Object Position | Where-Object { $_ -ge 0 })
    $Element.RemoveAll()
    $Element.SetAttribute('required', ([string][bool]($Sets | Where-Object IsMandatory)).ToLowerInvariant())
    $Element.SetAttribute('variableLength', 'true')
    $Element.SetAttribute('globbing', 'false')
    $Element.SetAttribute('pipelineInput', (Get-PipelineText $Sets))
    $Element.SetAttribute('position', $(if ($positions.Count) { [string]$positions[0] } else { 'named' }))
    $Element.SetAttribute('aliases', $(if ($Parameter.Aliases.Count) { $Parameter.Aliases -join ', ' } else { 'none' }))
    $null = $Element.AppendChild((New-Element 'maml:name' $Parameter.Name))
    $descriptionNode = New-Element 'maml:description'
    $null = $descriptionNode.AppendChild((New-Element 'maml:para' $Description))
    $null = $Element.AppendChild($descriptionNode)
    $typeName = Get-TypeName $Parameter.ParameterType
    if ($Parameter.ParameterType -ne [switch]) {
        $value = New-Element 'command:parameterValue' $typeName
        $value.SetAttribute('required', 'true')
        $value.SetAttribute('variableLength', 'false')
        $null = $Element.AppendChild($value)
    }
    $type = New-Element 'dev:type'
    $null = $type.AppendChild((New-Element 'maml:name' $typeName))
    $null = $type.AppendChild((New-Element 'maml:uri'))
    $null = $Element.AppendChild($type)
    if ($DefaultValue) {
        $null = $Element.AppendChild((New-Element 'dev:defaultValue' $DefaultValue))
    }
}

Import-Module $ModulePath -Force
$module = Get-Module IcmpTools
foreach ($name in $module.ExportedCmdlets.Keys | Sort-Object) {
    $command = Get-Command $name
    $entry = $doc.SelectSingleNode("/msh:helpItems/command:command[command:details/command:name='$name']", $manager)
    if (-not $entry) {
        Write-Warning "$name has no help yet: adding a skeleton entry to fill in."
        $entry = New-Element 'command:command'
        $details = New-Element 'command:details'
        $null = $details.AppendChild((New-Element 'command:name' $name))
        $null = $details.AppendChild((New-Element 'command:verb' $command.Verb))
        $null = $details.AppendChild((New-Element 'command:noun' $command.Noun))
        $synopsis = New-Element 'maml:description'
        $null = $synopsis.AppendChild((New-Element 'maml:para' ''))
        $null = $details.AppendChild($synopsis)
        $null = $entry.AppendChild($details)
        foreach ($part in 'maml:description', 'command:syntax', 'command:parameters', 'command:inputTypes', 'command:returnValues', 'command:examples') {
            $null = $entry.AppendChild((New-Element $part))
        }
        $null = $doc.DocumentElement.AppendChild($entry)
    }

    $parametersNode = $entry.SelectSingleNode('command:parameters', $manager)
    $descriptions = @{}
    $defaults = @{}
    foreach ($existing in @($parametersNode.SelectNodes('command:parameter', $manager))) {
        $descriptions[$existing.SelectSingleNode('maml:name', $manager).InnerText] =
            (@($existing.SelectNodes('maml:description/maml:para', $manager) | ForEach-Object InnerText) -join "`n").Trim()
        $default = $existing.SelectSingleNode('dev:defaultValue', $manager)
        $defaults[$existing.SelectSingleNode('maml:name', $manager).InnerText] = if ($default) { $default.InnerText } else { '' }
    }
    $declared = @($command.Parameters.Values | Where-Object Name -NotIn $common)
    foreach ($gone in $descriptions.Keys | Where-Object { $_ -notin $declared.Name }) {
        Write-Warning "$name has no parameter -$gone any more: removing its help."
    }

    # Parameters in the order the cmdlet declares them, each with every set it belongs to.
    $parametersNode.RemoveAll()
    foreach ($parameter in $declared) {
        if (-not $descriptions.ContainsKey($parameter.Name)) {
            Write-Warning "$name -$($parameter.Name) has no help yet: adding an empty entry to fill in."
        }
        $element = New-Element 'command:parameter'
        Set-ParameterElement $element $parameter @($parameter.ParameterSets.Values) ([string]$descriptions[$parameter.Name]) ([string]$defaults[$parameter.Name])
        $null = $parametersNode.AppendChild($element)
    }

    $syntaxNode = $entry.SelectSingleNode('command:syntax', $manager)
    $syntaxNode.RemoveAll()
    $sets = @($command.ParameterSets | Sort-Object { -not $_.IsDefault })
    foreach ($set in $sets) {
        $item = New-Element 'command:syntaxItem'
        $null = $item.AppendChild((New-Element 'maml:name' $name))
        # Positional first, then mandatory, then the rest, as Get-Command -Syntax orders them.
        $members = @($set.Parameters | Where-Object Name -NotIn $common |
            Sort-Object @{ Expression = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } }, @{ Expression = { -not $_.IsMandatory } })
        foreach ($member in $members) {
            $parameter = $command.Parameters[$member.Name]
            $element = New-Element 'command:parameter'
            Set-ParameterElement $element $parameter @($parameter.ParameterSets[$set.Name] ?? $parameter.ParameterSets['__AllParameterSets']) ([string]$descriptions[$member.Name])
            $null = $item.AppendChild($element)
        }
        $null = $syntaxNode.AppendChild($item)
    }
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.IndentChars = '  '
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$writer = [System.Xml.XmlWriter]::Create((Resolve-Path $HelpPath).Path, $settings)
try { $doc.Save($writer) } finally { $writer.Dispose() }
Write-Host "Updated $HelpPath from $($module.Name) $($module.Version)."
