<#
.SYNOPSIS
    Side-by-side benchmarks of KvmHost; prints ratios against a baseline measured in the same run.
.DESCRIPTION
    Every figure is a ratio against something measured moments before or after on the same machine
    (interleaved runs, medians), so a busy or slow machine still gives comparable numbers. Results go
    to bench/results/<date>-<suite>.md with the machine and date. No test asserts on time.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./bench/Invoke-Benchmark.ps1
#>
param(
    [ValidateSet('ColdStart', 'CpuParse')]
    [string[]] $Suite = @('ColdStart', 'CpuParse'),
    [int] $ColdRuns = 15,
    [int] $WarmIterations = 2000
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
$module = Join-Path $repo 'out/KvmHost/KvmHost.psd1'
if (-not (Test-Path $module)) { throw "Build first: dotnet tool run pwsh -NoProfile -File ./build.ps1" }
$pwsh = @([Environment]::ProcessPath)
if ([IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }

function Get-Median([double[]] $values) {
    $sorted = $values | Sort-Object
    $n = $sorted.Count
    if ($n % 2) { $sorted[[int][math]::Floor($n / 2)] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
}

function Measure-Process([string[]] $arguments) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) @arguments | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "benchmark command failed: $arguments" }
    $clock.Elapsed.TotalMilliseconds
}

$machine = "$(hostname), $([Environment]::ProcessorCount) cores, $([math]::Round([double]((Get-Content /proc/meminfo -TotalCount 1) -replace '\D') / 1MB)) GiB, $((Get-Content /proc/cpuinfo | Select-String -Pattern '^model name' | Select-Object -First 1).Line -replace '^model name\s*:\s*')"
$rows = [Collections.Generic.List[object]]::new()

if ('ColdStart' -in $Suite) {
    $baseline = [Collections.Generic.List[double]]::new()
    $withModule = [Collections.Generic.List[double]]::new()
    $command = "Import-Module '$module'; `$null = Test-KvmCpuSupport"
    Measure-Process @('-NoProfile', '-c', 'exit') | Out-Null   # warm the disk cache for both sides
    Measure-Process @('-NoProfile', '-c', $command) | Out-Null
    for ($i = 0; $i -lt $ColdRuns; $i++) {
        # Interleaved so that drift in machine load hits both sides alike.
        $baseline.Add((Measure-Process @('-NoProfile', '-c', 'exit')))
        $withModule.Add((Measure-Process @('-NoProfile', '-c', $command)))
    }
    $b = Get-Median $baseline; $m = Get-Median $withModule
    $rows.Add([pscustomobject]@{
        Benchmark = 'Cold start: pwsh -NoProfile -c exit vs + Import-Module KvmHost; Test-KvmCpuSupport'
        Baseline = '{0:N0} ms' -f $b; KvmHost = '{0:N0} ms' -f $m
        Ratio = '{0:N3}' -f ($m / $b); Target = 'added < 8 %'
        Met = (($m - $b) / $b) -lt 0.08
        Note = 'added {0:N0} ms ({1:N1} %), median of {2} interleaved runs' -f @(($m - $b), (100 * ($m - $b) / $b), $ColdRuns)
    })
}

if ('CpuParse' -in $Suite) {
    $root = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    try {
        $file = & (Join-Path $PSScriptRoot 'New-LargeCpuInfo.ps1') -Root $root -Count 384
        # A child process so the benchmark loop is compiled C#, not PowerShell's interpreter overhead.
        $script = @"
Import-Module '$module'
`$root = [KvmHost.Core.Platform.HostRoot]::Open('$root')
`$path = '$($file.FullName)'
function Time([scriptblock] `$body, [int] `$n) {
    for (`$i = 0; `$i -lt 200; `$i++) { & `$body | Out-Null }
    `$samples = [double[]]::new(7)
    for (`$s = 0; `$s -lt 7; `$s++) {
        `$clock = [Diagnostics.Stopwatch]::StartNew()
        for (`$i = 0; `$i -lt `$n; `$i++) { & `$body | Out-Null }
        `$samples[`$s] = `$clock.Elapsed.TotalMilliseconds / `$n
    }
    (`$samples | Sort-Object)[3]
}
`$read = Time { [IO.File]::ReadAllBytes(`$path) } $WarmIterations
`$probe = Time { [KvmHost.Core.Cpu.KvmCpuProbe]::Probe(`$root) } $WarmIterations
`$cmdlet = Time { Test-KvmCpuSupport -Root '$root' } ([math]::Max(200, $WarmIterations / 4))
`$count = (Test-KvmCpuSupport -Root '$root').LogicalProcessorCount
"`$read `$probe `$cmdlet `$count"
"@
        $answer = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -c $script
        $read, $probe, $cmdlet, $count = ($answer | Select-Object -Last 1) -split ' '
        $size = '{0:N0} KB, {1} CPUs' -f ($file.Length / 1KB), $count
        $rows.Add([pscustomobject]@{
            Benchmark = "Warm: KvmCpuProbe.Probe on a 384-CPU RHEL 9 cpuinfo ($size) vs File.ReadAllBytes"
            Baseline = '{0:N3} ms' -f [double]$read; KvmHost = '{0:N3} ms' -f [double]$probe
            Ratio = '{0:N2}' -f ([double]$probe / [double]$read); Target = '<= 3x and < 1 ms'
            Met = ([double]$probe / [double]$read) -le 3 -and [double]$probe -lt 1
            Note = 'median of 7 samples of {0} calls, same process' -f $WarmIterations
        })
        $rows.Add([pscustomobject]@{
            Benchmark = 'Warm: Test-KvmCpuSupport -Root (the cmdlet, through the PowerShell pipeline) vs File.ReadAllBytes'
            Baseline = '{0:N3} ms' -f [double]$read; KvmHost = '{0:N3} ms' -f [double]$cmdlet
            Ratio = '{0:N2}' -f ([double]$cmdlet / [double]$read); Target = '<= 3x and < 1 ms'
            Met = ([double]$cmdlet / [double]$read) -le 3 -and [double]$cmdlet -lt 1
            Note = 'includes parameter binding and pipeline cost of a cmdlet call'
        })
    } finally {
        Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
    }
}

$rows | Format-Table -Wrap -AutoSize | Out-Host
$stamp = Get-Date -Format 'yyyy-MM-dd'
$report = Join-Path $PSScriptRoot "results/$stamp-$($Suite -join '-').md"
$lines = @("# KvmHost benchmarks, $stamp", '', "Machine: $machine", "pwsh $($PSVersionTable.PSVersion), .NET $([Environment]::Version)", '',
    '| Benchmark | Baseline | KvmHost | Ratio | Target | Met | Note |', '|---|---|---|---|---|---|---|')
$lines += $rows | ForEach-Object { "| $($_.Benchmark) | $($_.Baseline) | $($_.KvmHost) | $($_.Ratio) | $($_.Target) | $($_.Met) | $($_.Note) |" }
Set-Content -Path $report -Value $lines
Write-Host "Results written to $report"
