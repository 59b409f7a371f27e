<#
.SYNOPSIS
    Builds a ReadyToRun copy of the running pwsh (the .NET tool's, whose assemblies are IL only), the way
    PowerShell's own packages (deb, rpm, tar.gz) ship it. Returns the path of the copy's pwsh.dll.
.DESCRIPTION
    Admins run a packaged pwsh whose assemblies are precompiled (ReadyToRun): it starts in about half the time of
    the .NET tool's pwsh, which JIT-compiles PowerShell's own code at every start. Measuring a module's start-up
    against the tool's pwsh alone hides how large the module's share is on a real install.
    This copies $PSHOME into Destination and compiles each IL assembly there with crossgen2 from NuGet
    (Microsoft.NETCore.App.Crossgen2.<rid> of exactly the runtime version this pwsh runs on). The tool's own folder
    is never written. A copy already built for the same pwsh and runtime is reused (a stamp file says which).
.EXAMPLE
    $r2r = & ./bench/New-ReadyToRunPwsh.ps1 -Destination ./out/bench/pwsh-r2r
    dotnet $r2r -NoProfile -c exit
#>
param(
    [Parameter(Mandatory)] [string] $Destination,
    # The pwsh folder to copy; the running pwsh's by default.
    [string] $Source = $PSHOME
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$runtime = [Environment]::Version.ToString()
$rid = 'linux-' + [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture.ToString().ToLowerInvariant()
$stampText = "pwsh $($PSVersionTable.PSVersion) from $Source; runtime $runtime; crossgen2 $rid $runtime"
$stamp = Join-Path $Destination 'kvmhost-r2r.stamp'
$pwshDll = Join-Path $Destination 'pwsh.dll'
if ((Test-Path $stamp) -and (Get-Content -Raw $stamp).Trim() -eq $stampText -and (Test-Path $pwshDll)) { return $pwshDll }

$crossgen2 = & (Join-Path $PSScriptRoot '../src/ReadyToRun/Get-Crossgen2.ps1')
$crossgen = $crossgen2.Path

if (Test-Path $Destination) { Remove-Item $Destination -Recurse -Force }
$null = New-Item -ItemType Directory -Path (Split-Path $Destination) -Force
Copy-Item $Source $Destination -Recurse

$framework = [Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()
# Assemblies under runtimes/ that a top-level one of the same name does not shadow (crossgen2 refuses duplicates).
$topLevel = @(Get-ChildItem $Source -Filter '*.dll')
$platformOnly = @(Get-ChildItem (Join-Path $Source 'runtimes') -Recurse -Filter '*.dll' -ErrorAction SilentlyContinue |
    Where-Object { $_.FullName -match "[/\\]runtimes[/\\](unix|linux|$rid)[/\\]lib[/\\]" -and $_.Name -notin $topLevel.Name })
$references = @("$framework*.dll", (Join-Path $Source '*.dll')) + @($platformOnly.FullName)
$inputs = $topLevel + $platformOnly

function Test-IlOnly([string] $path) {
    # Managed and not compiled yet: a ManagedNativeHeader in the CLI header marks a ReadyToRun image.
    $stream = [IO.File]::OpenRead($path)
    try {
        $reader = [Reflection.PortableExecutable.PEReader]::new($stream)
        $cor = $reader.PEHeaders.CorHeader
        $null -ne $cor -and $cor.ManagedNativeHeaderDirectory.Size -eq 0
    } catch [BadImageFormatException] { $false } finally { $stream.Dispose() }
}

$responseFile = Join-Path $Destination 'kvmhost-crossgen2.rsp'
$compiled = 0; $kept = [Collections.Generic.List[string]]::new()
foreach ($assembly in $inputs) {
    # The tool's shim only starts pwsh.dll in the tool layout; the copy is started as 'dotnet pwsh.dll'.
    if ($assembly.Name -eq 'Microsoft.PowerShell.GlobalTool.Shim.dll' -or -not (Test-IlOnly $assembly.FullName)) { continue }
    $target = Join-Path $Destination ([IO.Path]::GetRelativePath($Source, $assembly.FullName))
    # A response file: pwsh on Unix would expand the reference globs itself and hand crossgen2 duplicates.
    $arguments = @($assembly.FullName, '-o', $target, '-O', '--targetos', 'linux', '--targetarch', ($rid -replace '^linux-'))
    foreach ($reference in $references) { $arguments += @('-r', $reference) }
    Set-Content -LiteralPath $responseFile -Value $arguments
    $output = & $crossgen "@$responseFile" 2>&1
    if ($LASTEXITCODE -eq 0) { $compiled++ }
    else {
        # Left as IL (as copied), the way a package would ship an assembly crossgen2 cannot compile.
        Copy-Item $assembly.FullName $target -Force
        $kept.Add("$($assembly.Name): $(@($output)[-1])")
    }
}
Remove-Item -LiteralPath $responseFile -ErrorAction SilentlyContinue
if ($kept.Count) { Write-Warning "Left as IL: $($kept -join '; ')" }
if ($kept.Count -ge $compiled) { throw "crossgen2 compiled $compiled assemblies and failed on $($kept.Count); see the warning above" }
Write-Host "ReadyToRun pwsh: $compiled assemblies compiled with crossgen2 $runtime into $Destination"
Set-Content -Path $stamp -Value $stampText
$pwshDll
