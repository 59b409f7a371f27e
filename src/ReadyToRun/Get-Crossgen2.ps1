<#
.SYNOPSIS
    Returns the path of crossgen2 for the runtime this pwsh runs on, restoring it from NuGet when needed.
.DESCRIPTION
    A ReadyToRun image holds native code for one major .NET runtime; each runtime uses only images of its own
    ReadyToRun format version and JIT-compiles the IL of any other. So the compiler must be the one of the runtime
    the code will run on: the version of [Environment]::Version. Throws when NuGet does not serve it.
#>
$ErrorActionPreference = 'Stop'
$runtime = [Environment]::Version.ToString()
$rid = 'linux-' + [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture.ToString().ToLowerInvariant()
$packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
$crossgen = Join-Path $packages "microsoft.netcore.app.crossgen2.$rid/$runtime/tools/crossgen2"
if (-not (Test-Path $crossgen)) {
    $restore = & dotnet restore (Join-Path $PSScriptRoot 'Crossgen2.csproj') "-p:RuntimeVersion=$runtime" "-p:CrossgenRid=$rid" --nologo 2>&1
    if ($LASTEXITCODE -ne 0) { throw "crossgen2 $runtime for $rid could not be restored from NuGet: $($restore -join ' ')" }
    if (-not (Test-Path $crossgen)) { throw "crossgen2 was restored but is not at $crossgen" }
}
[pscustomobject]@{ Path = $crossgen; Runtime = $runtime; TargetArchitecture = $rid -replace '^linux-' }
