<#
.SYNOPSIS
    Builds the KvmHost module into ./out/KvmHost and runs its tests.
.DESCRIPTION
    Build (default): compiles the assemblies (and precompiles them ReadyToRun for the runtime of the pwsh running
    the build, unless -NoReadyToRun), copies the manifest, merges the per-area format files,
    generates MAML help from en-US/<Verb-Noun>.md and copies the about_ topics, so that
    Import-Module ./out/KvmHost/KvmHost.psd1 works.
    Demo: Build, then the README's first command: the setup as pipelines against a throw-away RHEL 9
    image (demo/Invoke-KvmHostDemo.ps1, in a child pwsh), then Test-KvmHost on this machine. No root needed.
    Test: Build, then the xUnit suite and the Pester suite (in a child pwsh so the build session never
    loads the module), and a closing line "Total: N passed, N failed, N skipped". Exits 1 on any failure.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./build.ps1
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./build.ps1 -Task Test -Tag Hardening
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./build.ps1 -Task Demo
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'UnitTest', 'PesterTest', 'Demo', 'Clean')]
    [string[]] $Task = @('Build'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester tags to run / leave out (the xUnit suite always runs with -Task Test).
    [string[]] $Tag,
    [string[]] $ExcludeTag,

    # Pester files or folders to run instead of the whole tests/ folder.
    [string[]] $TestPath,

    # Leave the module's assemblies as IL only (by default they also carry ReadyToRun code for this pwsh's runtime).
    [switch] $NoReadyToRun
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = $PSScriptRoot
$out = Join-Path $repo 'out'
$moduleOut = Join-Path $out 'KvmHost'
$resultsDir = Join-Path $out 'test-results'

function Invoke-Native {
    # Every external tool of the build goes through here so a failure stops the build with its exit code.
    param([string] $FilePath, [string[]] $ArgumentList)
    Write-Host "> $FilePath $($ArgumentList -join ' ')" -ForegroundColor DarkGray
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE" }
}

# Assemblies KvmHost.Core needs at run time, shipped next to it.
$script:CoreDependencies = @('Tmds.DBus.Protocol.dll', 'System.IO.Pipelines.dll')

function Invoke-Build {
    Invoke-Native dotnet @('build', "$repo/src/KvmHost/KvmHost.csproj", '-c', $Configuration, '--nologo', '-v', 'quiet', '-clp:ErrorsOnly')
    if (Test-Path $moduleOut) { Remove-Item $moduleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path (Join-Path $moduleOut 'en-US') -Force
    $bin = Join-Path $repo "src/KvmHost/bin/$Configuration/net8.0"
    foreach ($file in 'KvmHost.dll', 'KvmHost.pdb', 'KvmHost.Core.dll', 'KvmHost.Core.pdb') {
        Copy-Item (Join-Path $bin $file) $moduleOut
    }
    # Core's own dependencies: the D-Bus library (systemd and NetworkManager on the bus) and the pipelines it reads
    # with (pwsh ships a newer System.IO.Pipelines, which wins when loaded; this copy serves a pwsh without one).
    $coreBin = Join-Path $repo "src/KvmHost.Core/bin/$Configuration/net8.0"
    foreach ($file in $script:CoreDependencies) { Copy-Item (Join-Path $coreBin $file) $moduleOut }
    if (-not $NoReadyToRun) { Invoke-ReadyToRun -Bin $bin -CoreBin $coreBin -Destination $moduleOut }
    Copy-Item (Join-Path $repo 'KvmHost.psd1') $moduleOut
    # A published module carries its license and its history (the manifest's ReleaseNotes point at it).
    Copy-Item (Join-Path $repo 'LICENSE') $moduleOut
    Copy-Item (Join-Path $repo 'CHANGELOG.md') $moduleOut
    # The compliance suite ships with the module so auditors run exactly what the module's authors test.
    Copy-Item (Join-Path $repo 'src/KvmHost/Compliance') $moduleOut -Recurse
    Merge-FormatFiles -Source (Join-Path $repo 'src/KvmHost/Formats') -Destination (Join-Path $moduleOut 'KvmHost.format.ps1xml')
    Merge-TypeFiles -Source (Join-Path $repo 'src/KvmHost/Types') -Destination (Join-Path $moduleOut 'KvmHost.types.ps1xml')
    Get-ChildItem (Join-Path $repo 'en-US') -Filter 'about_*.help.txt' | Copy-Item -Destination (Join-Path $moduleOut 'en-US')
    # Help is generated in a child pwsh: it imports the built module to read each cmdlet's real syntax.
    Invoke-Native ([Environment]::ProcessPath) @((Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-File',
        (Join-Path $repo 'src/HelpBuilder/ConvertTo-MamlHelp.ps1'), '-ModulePath', (Join-Path $moduleOut 'KvmHost.psd1'),
        '-Source', (Join-Path $repo 'en-US'), '-Destination', (Join-Path $moduleOut 'en-US/KvmHost.dll-Help.xml'))
    $version = (Import-PowerShellDataFile (Join-Path $repo 'KvmHost.psd1')).ModuleVersion
    Write-Host "Built KvmHost $version -> $moduleOut"
}

function Invoke-ReadyToRun {
    # Precompiles the module's two assemblies for the runtime of the pwsh running this build (pwsh 7.6: .NET 10),
    # so that their first calls there skip the JIT. The IL stays in the files: a runtime uses only ReadyToRun code
    # of its own format version, so pwsh 7.4 and 7.5 (.NET 8 and 9) JIT-compile the IL exactly as before. The cmdlet
    # assembly needs pwsh's own System.Management.Automation as a reference, or crossgen2 skips every method that
    # touches it (PowerShellStandard, which it compiles against, is a reference assembly only).
    param([string] $Bin, [string] $CoreBin, [string] $Destination)
    try { $crossgen = & (Join-Path $repo 'src/ReadyToRun/Get-Crossgen2.ps1') }
    catch { Write-Warning "Module left as IL (no ReadyToRun code): $_"; return }
    $framework = [Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()
    $response = Join-Path $out 'crossgen2.rsp'
    # The D-Bus library too: its first calls would otherwise JIT-compile a few hundred methods in every new pwsh.
    foreach ($assembly in 'Tmds.DBus.Protocol', 'KvmHost.Core', 'KvmHost') {
        $source = if ($assembly -eq 'Tmds.DBus.Protocol') { Join-Path $CoreBin "$assembly.dll" } else { Join-Path $Bin "$assembly.dll" }
        # A response file: pwsh on Unix would expand the framework glob itself.
        Set-Content -LiteralPath $response -Value @($source, '-o', (Join-Path $Destination "$assembly.dll"),
            '-O', '--targetos', 'linux', '--targetarch', $crossgen.TargetArchitecture, '-r', "$framework*.dll",
            '-r', (Join-Path $PSHOME 'System.Management.Automation.dll'), '-r', (Join-Path $Bin 'KvmHost.Core.dll'),
            '-r', (Join-Path $CoreBin 'Tmds.DBus.Protocol.dll'), '-r', (Join-Path $CoreBin 'System.IO.Pipelines.dll'))
        Invoke-Native $crossgen.Path @("@$response")
    }
    Remove-Item -LiteralPath $response
}

function Merge-FormatFiles {
    # Each area keeps its views in its own file; PowerShell gets one file, so the manifest stays static.
    param([string] $Source, [string] $Destination)
    $merged = [xml]'<?xml version="1.0" encoding="utf-8"?><Configuration><ViewDefinitions/></Configuration>'
    $target = $merged.Configuration.SelectSingleNode('ViewDefinitions')
    foreach ($file in Get-ChildItem $Source -Filter '*.format.ps1xml' | Sort-Object Name) {
        $part = [xml](Get-Content -Raw $file.FullName)
        foreach ($view in $part.Configuration.ViewDefinitions.View) {
            $null = $target.AppendChild($merged.ImportNode($view, $true))
        }
    }
    $merged.Save($Destination)
}

function Merge-TypeFiles {
    # Type data (e.g. SerializationDepth for objects that carry records) lives per area like the views.
    param([string] $Source, [string] $Destination)
    $merged = [xml]'<?xml version="1.0" encoding="utf-8"?><Types/>'
    foreach ($file in Get-ChildItem $Source -Filter '*.types.ps1xml' | Sort-Object Name) {
        $part = [xml](Get-Content -Raw $file.FullName)
        foreach ($type in $part.Types.Type) {
            $null = $merged.DocumentElement.AppendChild($merged.ImportNode($type, $true))
        }
    }
    $merged.Save($Destination)
}

function Get-PesterModulePath {
    $packages = Join-Path $repo 'tests/.packages'
    $pester = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $pester)) {
        Invoke-Native dotnet @('restore', "$repo/tests/tools/tools.csproj", '--packages', $packages, '--nologo', '-v', 'quiet')
    }
    $pester
}

function Invoke-UnitTests {
    $null = New-Item -ItemType Directory -Path $resultsDir -Force
    $trx = Join-Path $resultsDir 'unit.trx'
    Remove-Item $trx -ErrorAction SilentlyContinue
    & dotnet test "$repo/tests/KvmHost.Core.Tests/KvmHost.Core.Tests.csproj" -c $Configuration --nologo `
        --logger "trx;LogFileName=$trx" --logger 'console;verbosity=minimal' | Out-Host
    $exit = $LASTEXITCODE
    if (-not (Test-Path $trx)) { throw "dotnet test produced no results (exit code $exit)" }
    $counters = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
    [pscustomobject]@{
        Suite   = 'xUnit'
        Passed  = [int]$counters.passed
        Failed  = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        Skipped = [int]$counters.notExecuted
    }
}

function Invoke-PesterTests {
    $pester = Get-PesterModulePath
    $null = New-Item -ItemType Directory -Path $resultsDir -Force
    $summary = Join-Path $resultsDir 'pester-summary.json'
    Remove-Item $summary -ErrorAction SilentlyContinue
    $runner = Join-Path $repo 'tests/Invoke-PesterSuite.ps1'
    $arguments = @('-NoProfile', '-NonInteractive', '-File', $runner, '-PesterPath', $pester,
        '-ResultDirectory', $resultsDir, '-SummaryPath', $summary)
    if ($TestPath) { $arguments += @('-Path', ($TestPath -join ',')) }
    if ($Tag) { $arguments += @('-Tag', ($Tag -join ',')) }
    if ($ExcludeTag) { $arguments += @('-ExcludeTag', ($ExcludeTag -join ',')) }
    # A child pwsh: the module is binary and cannot be unloaded, so the build session never imports it.
    & ([Environment]::ProcessPath) (Join-Path $PSHOME 'pwsh.dll') @arguments | Out-Host
    if (-not (Test-Path $summary)) { throw "Pester produced no summary (exit code $LASTEXITCODE)" }
    $result = Get-Content -Raw $summary | ConvertFrom-Json
    [pscustomobject]@{ Suite = 'Pester'; Passed = $result.Passed; Failed = $result.Failed; Skipped = $result.Skipped }
}

$results = @()
foreach ($step in $Task) {
    switch ($step) {
        'Clean' { Remove-Item $out -Recurse -Force -ErrorAction SilentlyContinue }
        'Build' { Invoke-Build }
        'UnitTest' { $results += Invoke-UnitTests }
        'PesterTest' { Invoke-Build; $results += Invoke-PesterTests }
        'Demo' {
            Invoke-Build
            # A child pwsh for the same reason as the tests: the build session never loads the module.
            # Its output is piped, so it is told the width of this terminal (or 120 without one) to lay out the views.
            $width = 120
            try { if (-not [Console]::IsOutputRedirected -and [Console]::WindowWidth -ge 40) { $width = [Console]::WindowWidth } }
            catch [System.IO.IOException] { }   # no terminal to ask: 120
            & ([Environment]::ProcessPath) (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File (Join-Path $repo 'demo/Invoke-KvmHostDemo.ps1') `
                -ModulePath (Join-Path $moduleOut 'KvmHost.psd1') -OsRelease (Join-Path $repo 'tests/fixtures/os-release/rhel-9.6.os-release') -Width $width | Out-Host
            if ($LASTEXITCODE -ne 0) { throw "The demo failed (exit code $LASTEXITCODE)" }
        }
        'Test' {
            Invoke-Build
            $results += Invoke-UnitTests
            $results += Invoke-PesterTests
        }
    }
}

if ($results) {
    $results | Format-Table -AutoSize | Out-Host
    $passed = ($results | Measure-Object Passed -Sum).Sum
    $failed = ($results | Measure-Object Failed -Sum).Sum
    $skipped = ($results | Measure-Object Skipped -Sum).Sum
    Write-Host "Total: $passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}
