<#
.SYNOPSIS
    Cold start: a new pwsh that imports KvmHost and makes its first call, against a new pwsh that only exits and
    against the smallest binary module doing the same, on the .NET tool's pwsh (IL only) and on a ReadyToRun copy of
    it (as admins' packaged pwsh is). Returns benchmark rows.
.DESCRIPTION
    Six commands, each a new process, run in rounds; within a round the order rotates so that machine-load drift
    and cache effects hit every command alike. Figures are medians; ratios compare commands of the same rounds.
    Apart from the timed runs, each command also runs a few times reporting from inside the process how long the
    import and the first call took and how many methods the JIT compiled for each
    ([System.Runtime.JitInfo]::GetCompiledMethodCount()): that shows where the time goes.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string[]] $Pwsh,
    [Parameter(Mandatory)] [string] $WorkDirectory,
    # pwsh.dll of the ReadyToRun copy (bench/New-ReadyToRunPwsh.ps1).
    [Parameter(Mandatory)] [string] $ReadyToRunPwsh,
    [int] $Runs = 15,
    [int] $DiagnosticRuns = 5
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$r2rDll = $ReadyToRunPwsh
$trivialOut = Join-Path $WorkDirectory 'TrivialModule'
$build = & dotnet build (Join-Path $PSScriptRoot 'TrivialModule/TrivialModule.csproj') -c Release -o $trivialOut --nologo -v quiet -clp:ErrorsOnly 2>&1
if ($LASTEXITCODE -ne 0) { throw "The trivial module did not build: $($build -join ' ')" }
$trivial = Join-Path $trivialOut 'TrivialModule.psd1'

$hosts = [ordered]@{ IL = @($Pwsh); R2R = @($Pwsh[0], $r2rDll) }
if ([IO.Path]::GetFileNameWithoutExtension($Pwsh[0]) -ne 'dotnet') { $hosts.R2R = @('dotnet', $r2rDll) }
$work = [ordered]@{
    exit    = 'exit'
    trivial = "Import-Module '$trivial'; `$null = Get-Trivial"
    kvmhost = "Import-Module '$Module'; `$null = Test-KvmCpuSupport"
}

function Invoke-Timed([string[]] $command, [string] $script) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $output = & $command[0] @($command | Select-Object -Skip 1) -NoProfile -NonInteractive -c $script 2>&1
    if ($LASTEXITCODE -ne 0) { throw "'$script' failed: $output" }
    $clock.Elapsed.TotalMilliseconds
}

$samples = @{}
$cases = foreach ($h in $hosts.Keys) { foreach ($w in $work.Keys) { [pscustomobject]@{ Key = "$h/$w"; Command = $hosts[$h]; Script = $work[$w] } } }
foreach ($case in $cases) { $samples[$case.Key] = [Collections.Generic.List[double]]::new(); $null = Invoke-Timed $case.Command $case.Script }  # disk cache
for ($round = 0; $round -lt $Runs; $round++) {
    for ($i = 0; $i -lt $cases.Count; $i++) {
        $case = $cases[($i + $round) % $cases.Count]
        $samples[$case.Key].Add((Invoke-Timed $case.Command $case.Script))
    }
}
$median = @{}; foreach ($key in $samples.Keys) { $median[$key] = Get-Median $samples[$key] }

# Inside the process: import and first call, in ms and in JIT-compiled methods.
$probe = @'
$jit0 = [System.Runtime.JitInfo]::GetCompiledMethodCount(); $clock = [Diagnostics.Stopwatch]::StartNew()
Import-Module '{0}'
$import = $clock.Elapsed.TotalMilliseconds; $jit1 = [System.Runtime.JitInfo]::GetCompiledMethodCount(); $clock.Restart()
$null = {1}
$call = $clock.Elapsed.TotalMilliseconds; $jit2 = [System.Runtime.JitInfo]::GetCompiledMethodCount()
'{{0}} {{1}} {{2}} {{3}} {{4}}' -f $jit0, $import, ($jit1 - $jit0), $call, ($jit2 - $jit1)
'@
$inside = @{}
foreach ($h in $hosts.Keys) {
    foreach ($m in @(@{ Name = 'trivial'; Path = $trivial; Call = 'Get-Trivial' }, @{ Name = 'kvmhost'; Path = $Module; Call = 'Test-KvmCpuSupport' })) {
        $values = for ($i = 0; $i -lt $DiagnosticRuns; $i++) {
            $line = & $hosts[$h][0] @($hosts[$h] | Select-Object -Skip 1) -NoProfile -NonInteractive -c ($probe -f $m.Path, $m.Call)
            , ([double[]] ((@($line)[-1]) -split ' '))
        }
        $inside["$h/$($m.Name)"] = [pscustomobject]@{
            StartJit = Get-Median ($values | ForEach-Object { $_[0] }); ImportMs = Get-Median ($values | ForEach-Object { $_[1] })
            ImportJit = Get-Median ($values | ForEach-Object { $_[2] }); CallMs = Get-Median ($values | ForEach-Object { $_[3] })
            CallJit = Get-Median ($values | ForEach-Object { $_[4] })
        }
    }
}
function Format-Inside([string] $key) {
    $d = $inside[$key]
    'import {0:N1} ms ({1} methods JIT-compiled), first call {2:N1} ms ({3})' -f $d.ImportMs, $d.ImportJit, $d.CallMs, $d.CallJit
}

# KvmHost's own ReadyToRun code: the module as built (ReadyToRun for this runtime), its plain IL, and a .NET 8
# ReadyToRun image (what pwsh 7.4's runtime would use), each loaded by this runtime, counting what the JIT compiles.
function Get-ReadyToRunVersion([string] $path) {
    $stream = [IO.File]::OpenRead($path)
    try {
        $reader = [Reflection.PortableExecutable.PEReader]::new($stream)
        $directory = $reader.PEHeaders.CorHeader.ManagedNativeHeaderDirectory
        if ($directory.Size -eq 0) { return 'IL only' }
        $offset = 0; $null = $reader.PEHeaders.TryGetDirectoryOffset($directory, [ref] $offset)
        $header = [byte[]]::new(8); $stream.Position = $offset; $null = $stream.Read($header, 0, 8)
        'ReadyToRun format {0}.{1}' -f [BitConverter]::ToUInt16($header, 4), [BitConverter]::ToUInt16($header, 6)
    } finally { $stream.Dispose() }
}
$repo = Split-Path $PSScriptRoot -Parent
$moduleDir = Split-Path $Module
$ilBin = Join-Path $repo 'src/KvmHost/bin/Release/net8.0'
$images = [ordered]@{ 'as built' = $moduleDir }
if (Test-Path (Join-Path $ilBin 'KvmHost.dll')) {
    $images['IL only'] = Join-Path $WorkDirectory 'kvmhost-il'
    $images['.NET 8 ReadyToRun'] = Join-Path $WorkDirectory 'kvmhost-r2r-net8'
    $net8 = Join-Path $WorkDirectory 'kvmhost-net8-publish'
    $publish = & dotnet publish (Join-Path $repo 'src/KvmHost/KvmHost.csproj') -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o $net8 --nologo -v quiet -clp:ErrorsOnly 2>&1
    if ($LASTEXITCODE -ne 0) { Write-Warning "The .NET 8 ReadyToRun image did not build: $($publish -join ' ')"; $images.Remove('.NET 8 ReadyToRun') }
    foreach ($name in @($images.Keys | Select-Object -Skip 1)) {
        $dir = $images[$name]
        if (Test-Path $dir) { Remove-Item $dir -Recurse -Force }
        Copy-Item $moduleDir $dir -Recurse
        $from = if ($name -eq 'IL only') { $ilBin } else { $net8 }
        foreach ($dll in 'KvmHost.dll', 'KvmHost.Core.dll') { Copy-Item (Join-Path $from $dll) $dir -Force }
    }
}
$imageRows = foreach ($name in $images.Keys) {
    $path = Join-Path $images[$name] 'KvmHost.psd1'
    $values = for ($i = 0; $i -lt $DiagnosticRuns; $i++) {
        $line = & $hosts.R2R[0] @($hosts.R2R | Select-Object -Skip 1) -NoProfile -NonInteractive -c ($probe -f $path, 'Test-KvmCpuSupport')
        , ([double[]] ((@($line)[-1]) -split ' '))
    }
    [pscustomobject]@{
        Name = $name; Format = Get-ReadyToRunVersion (Join-Path $images[$name] 'KvmHost.Core.dll')
        CallMs = Get-Median ($values | ForEach-Object { $_[3] }); CallJit = Get-Median ($values | ForEach-Object { $_[4] })
        ImportJit = Get-Median ($values | ForEach-Object { $_[2] })
    }
}

$note = "medians of $Runs rounds, the 6 commands rotating within each round; load average $((Get-Content /proc/loadavg) -replace '^((\S+ ){3}).*', '$1')"
$ratio = $median['R2R/kvmhost'] / $median['R2R/exit']
[pscustomobject]@{
    Benchmark = 'Cold start, ReadyToRun pwsh: pwsh -c exit vs + Import-Module KvmHost; Test-KvmCpuSupport'
    Baseline = '{0:N0} ms' -f $median['R2R/exit']; KvmHost = '{0:N0} ms' -f $median['R2R/kvmhost']
    Ratio = '{0:N3}' -f $ratio; Target = '<= 1.15'; TargetRatio = 1.15; Label = 'Cold, R2R pwsh: import + first call vs exit'; Met = $ratio -le 1.15
    Note = "$note. Inside: $(Format-Inside 'R2R/kvmhost'); pwsh itself JIT-compiled $($inside['R2R/kvmhost'].StartJit) methods before the import"
}
$ratio = $median['R2R/trivial'] / $median['R2R/exit']
[pscustomobject]@{
    Benchmark = 'Cold start, ReadyToRun pwsh: pwsh -c exit vs + the trivial binary module (the floor, for reference)'
    Baseline = '{0:N0} ms' -f $median['R2R/exit']; KvmHost = '{0:N0} ms' -f $median['R2R/trivial']
    Ratio = '{0:N3}' -f $ratio; Target = 'none (the floor)'; Met = ''
    Note = "Inside: $(Format-Inside 'R2R/trivial')"
}
$ratio = $median['IL/kvmhost'] / $median['IL/trivial']
[pscustomobject]@{
    Benchmark = 'Cold start, the tool''s IL pwsh: trivial binary module vs KvmHost (import + first call)'
    Baseline = '{0:N0} ms' -f $median['IL/trivial']; KvmHost = '{0:N0} ms' -f $median['IL/kvmhost']
    Ratio = '{0:N3}' -f $ratio; Target = '<= 1.03'; TargetRatio = 1.03; Label = 'Cold, IL pwsh: KvmHost vs trivial module'; Met = $ratio -le 1.03
    Note = "exit {0:N0} ms. Inside: KvmHost {1}; trivial {2}; pwsh itself JIT-compiled {3} methods before the import" -f $median['IL/exit'], (Format-Inside 'IL/kvmhost'), (Format-Inside 'IL/trivial'), $inside['IL/kvmhost'].StartJit
}
$ratio = $median['IL/kvmhost'] / $median['IL/exit']
[pscustomobject]@{
    Benchmark = 'Cold start, the tool''s IL pwsh: pwsh -c exit vs + Import-Module KvmHost; Test-KvmCpuSupport'
    Baseline = '{0:N0} ms' -f $median['IL/exit']; KvmHost = '{0:N0} ms' -f $median['IL/kvmhost']
    Ratio = '{0:N3}' -f $ratio; Target = 'none (see the two rows above)'; Met = ''
    Note = 'R2R pwsh exit {0:N0} ms = {1:N2}x the IL pwsh''s' -f $median['R2R/exit'], ($median['R2R/exit'] / $median['IL/exit'])
}
$built = $imageRows | Where-Object Name -eq 'as built'
$il = $imageRows | Where-Object Name -eq 'IL only'
if ($il) {
    [pscustomobject]@{
        Benchmark = "KvmHost's own ReadyToRun code, first Test-KvmCpuSupport call in the ReadyToRun pwsh ($([Environment]::Version) runtime): IL only vs as built"
        Baseline = '{0:N1} ms' -f $il.CallMs; KvmHost = '{0:N1} ms' -f $built.CallMs
        Ratio = '{0:N2}' -f ($built.CallMs / $il.CallMs); Target = 'none (decides whether the build ships it)'; Met = ''
        Note = ($imageRows | ForEach-Object { '{0} ({1}): {2:N1} ms, {3} methods JIT-compiled in the call, {4} in the import' -f $_.Name, $_.Format, $_.CallMs, $_.CallJit, $_.ImportJit }) -join '; '
    }
}
