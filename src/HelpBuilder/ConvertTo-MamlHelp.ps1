<#
.SYNOPSIS
    Turns the markdown help in en-US/<Verb-Noun>.md into MAML (KvmHost.dll-Help.xml).
.DESCRIPTION
    platyPS is not available, so the build does this itself. Syntax, parameter types, positions and
    pipeline input come from the built cmdlets (Get-Command), so they can never drift from the code;
    the markdown supplies only prose: synopsis, description, parameter descriptions, examples,
    inputs, outputs, notes and links. Default values come from the cmdlet too: a new instance's
    property values, which are exactly what an unbound parameter keeps. Run in a fresh pwsh: it
    imports the built module.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $Source,
    [Parameter(Mandatory)] [string] $Destination
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$module = Import-Module $ModulePath -PassThru -Force

function Split-Sections([string] $text, [string] $marker) {
    # Returns an ordered map heading -> body for headings that start with $marker ("## " or "### ").
    $sections = [ordered]@{}
    $current = $null
    $inFence = $false
    foreach ($line in $text -split "`r?`n") {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($marker) -and -not $line.StartsWith($marker + '#')) {
            $current = $line.Substring($marker.Length).Trim()
            $sections[$current] = [System.Collections.Generic.List[string]]::new()
        } elseif ($null -ne $current) {
            $sections[$current].Add($line)
        }
    }
    $result = [ordered]@{}
    foreach ($key in $sections.Keys) { $result[$key] = ($sections[$key] -join "`n").Trim() }
    $result
}

function ConvertTo-Paras([string] $text) {
    # Blank lines separate paragraphs; single line breaks inside a paragraph are folded, except list items.
    if (-not $text) { return '<maml:para />' }
    $paras = $text -split "`n\s*`n" | ForEach-Object {
        $lines = $_ -split "`n"
        $joined = ($lines | ForEach-Object { $_.Trim() }) -join "`n"
        if ($joined -notmatch "(?m)^- ") { $joined = ($lines | ForEach-Object { $_.Trim() }) -join ' ' }
        '<maml:para>' + [Security.SecurityElement]::Escape($joined) + '</maml:para>'
    }
    $paras -join ''
}

function Get-DefaultValue($command, [string] $name) {
    # What the parameter is when not given: the property's value on a fresh instance of the cmdlet.
    # "None" where there is none (null, an empty array or string); switches read False unless they default on.
    $property = $command.ImplementingType.GetProperty($name)
    if (-not $property -or -not $property.CanRead) { return 'None' }
    $value = $property.GetValue([Activator]::CreateInstance($command.ImplementingType))
    if ($value -is [switch]) { return $value.IsPresent.ToString() }
    if ($null -eq $value -or "$value" -eq '' -or ($value -is [array] -and $value.Count -eq 0)) { return 'None' }
    if ($value -is [array]) { return $value -join ', ' }
    "$value"
}

function Get-ParameterXml($command, $parameter, [string] $description, $setParameter) {
    $type = $parameter.ParameterType
    $isSwitch = $type -eq [switch]
    $pipeline = @()
    if ($setParameter.ValueFromPipeline) { $pipeline += 'ByValue' }
    if ($setParameter.ValueFromPipelineByPropertyName) { $pipeline += 'ByPropertyName' }
    $pipelineText = if ($pipeline) { 'True (' + ($pipeline -join ', ') + ')' } else { 'False' }
    $position = if ($setParameter.Position -ge 0) { [string]($setParameter.Position + 1) } else { 'named' }
    $aliases = if ($parameter.Aliases.Count) { $parameter.Aliases -join ', ' } else { 'none' }
    $typeName = if ($isSwitch) { 'SwitchParameter' } else { $type.Name }
    $value = if ($isSwitch) { '' } else { "<command:parameterValue required=`"true`" variableLength=`"false`">$([Security.SecurityElement]::Escape($typeName))</command:parameterValue>" }
    $validValues = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
    $enumValues = if ($type.IsEnum) { [enum]::GetNames($type) } elseif ($validValues) { $validValues.ValidValues } else { @() }
    $valueList = if ($enumValues) {
        '<command:parameterValueGroup>' + (($enumValues | ForEach-Object { "<command:parameterValue required=`"false`" command:variableLength=`"false`">$_</command:parameterValue>" }) -join '') + '</command:parameterValueGroup>'
    } else { '' }
    "<command:parameter required=`"$($setParameter.IsMandatory.ToString().ToLower())`" variableLength=`"true`" globbing=`"false`" pipelineInput=`"$pipelineText`" position=`"$position`" aliases=`"$aliases`">" +
    "<maml:name>$($parameter.Name)</maml:name><maml:description>$(ConvertTo-Paras $description)</maml:description>$valueList$value" +
    "<dev:type><maml:name>$([Security.SecurityElement]::Escape($type.FullName))</maml:name><maml:uri /></dev:type><dev:defaultValue>$([Security.SecurityElement]::Escape((Get-DefaultValue $command $parameter.Name)))</dev:defaultValue></command:parameter>"
}

$common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name +
          [System.Management.Automation.Internal.ShouldProcessParameters].GetProperties().Name
$shouldProcessText = @{
    WhatIf  = 'Shows what would change (files, commands, runtime state) without changing anything.'
    Confirm = 'Prompts for confirmation before each change.'
}
$builder = [System.Text.StringBuilder]::new()
$null = $builder.Append('<?xml version="1.0" encoding="utf-8"?>' + "`n")
$null = $builder.Append('<helpItems schema="maml" xmlns="http://msh">' + "`n")
$missing = @()
foreach ($command in (Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)) {
    $file = Join-Path $Source "$($command.Name).md"
    if (-not (Test-Path $file)) { $missing += $command.Name; continue }
    $sections = Split-Sections (Get-Content -Raw $file) '## '
    $get = { param($name) if ($sections.Contains($name)) { $sections[$name] } else { '' } }
    $parameterDocs = Split-Sections (& $get 'PARAMETERS') '### '
    $verb, $noun = $command.Name -split '-', 2

    $null = $builder.Append('<command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
    $null = $builder.Append("<command:details><command:name>$($command.Name)</command:name><command:verb>$verb</command:verb><command:noun>$noun</command:noun><maml:description>$(ConvertTo-Paras (& $get 'SYNOPSIS'))</maml:description></command:details>")
    $null = $builder.Append("<maml:description>$(ConvertTo-Paras (& $get 'DESCRIPTION'))</maml:description>")

    $describe = {
        param($name)
        if ($parameterDocs.Contains("-$name")) { $parameterDocs["-$name"] } elseif ($shouldProcessText.ContainsKey($name)) { $shouldProcessText[$name] } else { '' }
    }
    $null = $builder.Append('<command:syntax>')
    foreach ($set in $command.ParameterSets) {
        $null = $builder.Append("<command:syntaxItem><maml:name>$($command.Name)</maml:name>")
        foreach ($p in ($set.Parameters | Where-Object { $_.Name -notin $common -or $_.Name -in 'WhatIf', 'Confirm' } |
                Sort-Object @{ Expression = { if ($_.Position -ge 0) { $_.Position } else { 1000 } } })) {
            $null = $builder.Append((Get-ParameterXml $command $command.Parameters[$p.Name] (& $describe $p.Name) $p))
        }
        $null = $builder.Append('</command:syntaxItem>')
    }
    $null = $builder.Append('</command:syntax><command:parameters>')
    foreach ($name in ($command.Parameters.Keys | Where-Object { $_ -notin $common -or $_ -in 'WhatIf', 'Confirm' } | Sort-Object)) {
        $parameter = $command.Parameters[$name]
        $setParameter = $command.ParameterSets.Parameters | Where-Object Name -eq $name | Select-Object -First 1
        $null = $builder.Append((Get-ParameterXml $command $parameter (& $describe $name) $setParameter))
    }
    $null = $builder.Append('</command:parameters>')

    foreach ($kind in @(@{ Section = 'INPUTS'; Outer = 'inputTypes'; Inner = 'inputType' }, @{ Section = 'OUTPUTS'; Outer = 'returnValues'; Inner = 'returnValue' })) {
        $null = $builder.Append("<command:$($kind.Outer)>")
        foreach ($entry in (Split-Sections (& $get $kind.Section) '### ').GetEnumerator()) {
            $null = $builder.Append("<command:$($kind.Inner)><dev:type><maml:name>$([Security.SecurityElement]::Escape($entry.Key))</maml:name></dev:type><maml:description>$(ConvertTo-Paras $entry.Value)</maml:description></command:$($kind.Inner)>")
        }
        $null = $builder.Append("</command:$($kind.Outer)>")
    }
    $null = $builder.Append("<maml:alertSet><maml:alert>$(ConvertTo-Paras (& $get 'NOTES'))</maml:alert></maml:alertSet>")

    $null = $builder.Append('<command:examples>')
    foreach ($example in (Split-Sections (& $get 'EXAMPLES') '### ').GetEnumerator()) {
        $code = if ($example.Value -match '(?s)```(?:powershell)?\s*\n(.*?)\n```') { $Matches[1] } else { '' }
        $remarks = ($example.Value -replace '(?s)```.*?```', '').Trim()
        $null = $builder.Append("<command:example><maml:title>--------- $([Security.SecurityElement]::Escape($example.Key)) ---------</maml:title><dev:code>$([Security.SecurityElement]::Escape($code))</dev:code><dev:remarks>$(ConvertTo-Paras $remarks)</dev:remarks></command:example>")
    }
    $null = $builder.Append('</command:examples><command:relatedLinks>')
    foreach ($line in ((& $get 'RELATED LINKS') -split "`n" | Where-Object { $_ -match '\S' })) {
        $text = $line.Trim().TrimStart('-', '*', ' ')
        $uri = ''
        if ($text -match '^\[(.+?)\]\((.*?)\)$') { $text = $Matches[1]; $uri = $Matches[2] }
        if ($uri -notmatch '^https?://') { $uri = '' }
        $null = $builder.Append("<maml:navigationLink><maml:linkText>$([Security.SecurityElement]::Escape($text))</maml:linkText><maml:uri>$([Security.SecurityElement]::Escape($uri))</maml:uri></maml:navigationLink>")
    }
    $null = $builder.Append('</command:relatedLinks></command:command>' + "`n")
}
$null = $builder.Append('</helpItems>' + "`n")
[System.IO.File]::WriteAllText($Destination, $builder.ToString(), [System.Text.UTF8Encoding]::new($false))
if ($missing) { Write-Warning "No help source for: $($missing -join ', ') (expected en-US/<Name>.md)" }
