<#
.SYNOPSIS
    Side-by-side benchmarks of KvmHost; prints ratios against a baseline measured in the same run.
.DESCRIPTION
    Every figure is a ratio against something measured moments before or after on the same machine
    (interleaved runs, medians), so a busy or slow machine still gives comparable numbers. Results go
    to bench/results/<date>-<suite>.md with the machine and date. No test asserts on time.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./bench/Invoke-Benchmark.ps1
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./bench/Invoke-Benchmark.ps1 -Suite Converged -ConvergedRounds 7
.PARAMETER Suite
    ColdStart and CpuParse run anywhere; Converged, Packages and Fleet need root (systemd boxes, dnf
    into installroots), Converged also Debian's ansible and strace. A suite that cannot run here says
    why and is left out of the table.
#>
param(
    [ValidateSet('ColdStart', 'CpuParse', 'Converged', 'Packages', 'Fleet')]
    [string[]] $Suite = @('ColdStart', 'CpuParse', 'Converged', 'Packages', 'Fleet'),
    [int] $ColdRuns = 9,
    [int] $WarmIterations = 200,
    [int] $ConvergedRounds = 3,
    [int[]] $MissingPackages = @(1, 3, 6),
    [int] $FleetRepeat = 3
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
$module = Join-Path $repo 'out/KvmHost/KvmHost.psd1'
if (-not (Test-Path $module)) { throw "Build first: dotnet tool run pwsh -NoProfile -File ./build.ps1" }
Import-Module (Join-Path $repo 'tests/harness/Harness.psm1')
$pwsh = @(Get-HarnessPwshCommand)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

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
        Ratio = '{0:N3}' -f ($m / $b); Target = 'added < 8 %'; TargetRatio = 1.08; Label = 'Cold start: import + first call vs pwsh -c exit'
        Met = (($m - $b) / $b) -lt 0.08
        Note = 'added {0:N0} ms ({1:N1} %), median of {2} interleaved runs' -f @(($m - $b), (100 * ($m - $b) / $b), $ColdRuns)
    })
}

if ('CpuParse' -in $Suite) {
    $root = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    try {
        $file = & (Join-Path $PSScriptRoot 'New-LargeCpuInfo.ps1') -Root $root -Count 384
        # A child process with the loops in compiled C#, so neither side pays PowerShell's per-call
        # interpreter cost; samples of the two sides alternate so load drift hits both alike.
        $core = Join-Path (Split-Path $module) 'KvmHost.Core.dll'
        $script = @"
Import-Module '$module'
Add-Type -IgnoreWarnings -ReferencedAssemblies '$core' -TypeDefinition @'
public static class BenchLoop {
    public static double Read(string path, int n) {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < n; i++) { System.GC.KeepAlive(System.IO.File.ReadAllBytes(path)); }
        return clock.Elapsed.TotalMilliseconds / n;
    }
    public static double Probe(KvmHost.Core.Platform.HostRoot root, int n) {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < n; i++) { System.GC.KeepAlive(KvmHost.Core.Cpu.KvmCpuProbe.Probe(root)); }
        return clock.Elapsed.TotalMilliseconds / n;
    }
}
'@
`$root = [KvmHost.Core.Platform.HostRoot]::Open('$root')
`$path = '$($file.FullName)'
`$n = $WarmIterations
`$null = [BenchLoop]::Read(`$path, 20); `$null = [BenchLoop]::Probe(`$root, 20)
foreach (`$i in 1..20) { `$null = Test-KvmCpuSupport -Root '$root' }
`$reads = @(); `$probes = @(); `$cmdlets = @()
foreach (`$s in 1..7) {
    `$reads += [BenchLoop]::Read(`$path, `$n)
    `$probes += [BenchLoop]::Probe(`$root, `$n)
    `$clock = [Diagnostics.Stopwatch]::StartNew()
    foreach (`$i in 1..`$n) { `$null = Test-KvmCpuSupport -Root '$root' }
    `$cmdlets += `$clock.Elapsed.TotalMilliseconds / `$n
}
`$read = (`$reads | Sort-Object)[3]; `$probe = (`$probes | Sort-Object)[3]; `$cmdlet = (`$cmdlets | Sort-Object)[3]
`$count = (Test-KvmCpuSupport -Root '$root').LogicalProcessorCount
"`$read `$probe `$cmdlet `$count"
"@
        $answer = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -c $script
        $read, $probe, $cmdlet, $count = ($answer | Select-Object -Last 1) -split ' '
        $size = '{0:N0} KB, {1} CPUs' -f ($file.Length / 1KB), $count
        $rows.Add([pscustomobject]@{
            Benchmark = "Warm: KvmCpuProbe.Probe on a 384-CPU RHEL 9 cpuinfo ($size) vs File.ReadAllBytes"
            Baseline = '{0:N3} ms' -f [double]$read; KvmHost = '{0:N3} ms' -f [double]$probe
            Ratio = '{0:N2}' -f ([double]$probe / [double]$read); Target = '<= 3x and < 1 ms'; TargetRatio = 3; Label = 'Warm: KvmCpuProbe.Probe vs File.ReadAllBytes'
            Met = ([double]$probe / [double]$read) -le 3 -and [double]$probe -lt 1
            Note = 'median of 7 samples of {0} calls each, alternating with the baseline, one process, loops in C#' -f $WarmIterations
        })
        $rows.Add([pscustomobject]@{
            Benchmark = 'Warm: Test-KvmCpuSupport -Root (the cmdlet, through the PowerShell pipeline) vs File.ReadAllBytes'
            Baseline = '{0:N3} ms' -f [double]$read; KvmHost = '{0:N3} ms' -f [double]$cmdlet
            Ratio = '{0:N2}' -f ([double]$cmdlet / [double]$read); Target = '<= 3x and < 1 ms'; TargetRatio = 3; Label = 'Warm: Test-KvmCpuSupport cmdlet vs File.ReadAllBytes'
            Met = ([double]$cmdlet / [double]$read) -le 3 -and [double]$cmdlet -lt 1
            Note = 'includes parameter binding and pipeline cost of a cmdlet call'
        })
    } finally {
        Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
    }
}

$stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-stubs-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
try {
    $stubRepo = $null
    $noStubs = $null
    if ($Suite | Where-Object { $_ -in 'Converged', 'Packages' }) {
        Import-Module (Join-Path $repo 'tests/harness/StubRepo.psm1') -Force
        $noStubs = Test-StubRepoSupported
        if (-not $noStubs) { $stubRepo = New-StubRepo -Path $stubs -Profile rhel9 }
    }
    if ('Converged' -in $Suite) {
        if ($stubRepo) {
            # A failed suite is reported and the others still run: their figures cost minutes too.
            try { foreach ($row in & (Join-Path $PSScriptRoot 'Measure-Converged.ps1') -Module $module -Pwsh $pwsh -StubRepo $stubRepo -Rounds $ConvergedRounds) { $rows.Add($row) } }
            catch { Write-Warning "Converged suite failed: $_ ($($_.InvocationInfo.PositionMessage))" }
        } else { Write-Warning "Converged suite skipped: $noStubs" }
    }
    if ('Packages' -in $Suite) {
        if ($stubRepo) {
            # A child pwsh: the suite imports the module, which this process must not hold for the next build.
            $packageRows = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command @"
`$ErrorActionPreference = 'Stop'
& '$(Join-Path $PSScriptRoot 'Measure-Packages.ps1')' -Module '$module' -StubRepo '$stubRepo' -Missing $($MissingPackages -join ',') | ConvertTo-Json -Compress -AsArray
"@
            if ($LASTEXITCODE -ne 0) { Write-Warning "Packages suite failed: $packageRows" }
            else { foreach ($row in ($packageRows | Select-Object -Last 1 | ConvertFrom-Json)) { $rows.Add($row) } }
        } else { Write-Warning "Packages suite skipped: $noStubs" }
    }
} finally {
    if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
}

if ('Fleet' -in $Suite) {
    if (Test-Path (Join-Path $repo 'tests/harness/Fleet.psm1')) {
        # A child pwsh: a fleet puts its ssh first on PATH for the whole process.
        $fleetRows = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command @"
`$ErrorActionPreference = 'Stop'
& '$(Join-Path $PSScriptRoot 'Measure-Fleet.ps1')' -Module '$module' -Repeat $FleetRepeat | ConvertTo-Json -Compress -AsArray
"@
        if ($LASTEXITCODE -ne 0) { Write-Warning "Fleet suite failed: $fleetRows" }
        else { foreach ($row in ($fleetRows | Select-Object -Last 1 | ConvertFrom-Json)) { $rows.Add($row) } }
    } else { Write-Warning 'Fleet suite skipped: tests/harness/Fleet.psm1 (the SSH remoting fleet harness) is not in this tree' }
}

$rows | Format-Table -Wrap -AutoSize | Out-Host

$stamp = Get-Date -Format 'yyyy-MM-dd'
$suiteName = if ($Suite.Count -eq 5) { 'all' } else { $Suite -join '-' }
$report = Join-Path $PSScriptRoot "results/$stamp-$suiteName.md"
$lines = @("# KvmHost benchmarks, $stamp", '', "Machine: $machine", "pwsh $($PSVersionTable.PSVersion), .NET $([Environment]::Version)", '',
    '| Benchmark | Baseline | KvmHost | Ratio | Target | Met | Note |', '|---|---|---|---|---|---|---|')
$lines += $rows | ForEach-Object { "| $($_.Benchmark) | $($_.Baseline) | $($_.KvmHost) | $($_.Ratio) | $($_.Target) | $($_.Met) | $($_.Note) |" }
$missed = @($rows | Where-Object { "$($_.Met)" -eq 'False' })
if ($missed) {
    $lines += @('', '## Targets missed', '')
    $lines += $missed | ForEach-Object {
        $by = if ($_.PSObject.Properties['TargetRatio'] -and $_.TargetRatio -and [double] ($_.Ratio -replace ',') -gt $_.TargetRatio) {
            'ratio {0} against {1}: {2:N1}x the target' -f $_.Ratio, $_.TargetRatio, ([double] ($_.Ratio -replace ',') / $_.TargetRatio)
        } else { "$($_.KvmHost) (ratio $($_.Ratio)) against target $($_.Target)" }
        "- $($_.Benchmark): $by"
    }
}
$charted = @($rows | Where-Object { $_.PSObject.Properties['TargetRatio'] -and $_.TargetRatio })
if ($charted) {
    $chart = [IO.Path]::ChangeExtension($report, '.svg')
    Set-Content -Path $chart -Value (& (Join-Path $PSScriptRoot 'New-RatioChart.ps1') -Row $charted -Title "KvmHost against its baselines, $stamp")
    $lines += @('', "![measured ratio against target ratio]($(Split-Path $chart -Leaf))")
}
Set-Content -Path $report -Value $lines
Write-Host "Results written to $report"
