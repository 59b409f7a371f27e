<#
.SYNOPSIS
    Warm CPU parse: KvmCpuProbe.Probe on generated RHEL 9 cpuinfo files (384 and 4096 CPUs) against reading the
    same bytes with File.ReadAllBytes, in one process. Returns benchmark rows.
.DESCRIPTION
    A child pwsh runs the loops in compiled C# (Add-Type), so neither side pays PowerShell's per-call interpreter
    cost; samples of the two sides alternate so that load drift hits both alike. The cmdlet itself, through the
    PowerShell pipeline, is timed as well for the 384-CPU file, for reference.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string[]] $Pwsh,
    [int[]] $Count = @(384, 4096),
    [int] $Iterations = 200,
    [int] $Samples = 7
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$scratch = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
try {
    $roots = foreach ($n in $Count) {
        $root = Join-Path $scratch "cpus-$n"
        $file = & (Join-Path $PSScriptRoot 'New-LargeCpuInfo.ps1') -Root $root -Count $n
        [pscustomobject]@{ Count = $n; Root = $root; Path = $file.FullName; Size = $file.Length }
    }
    $core = Join-Path (Split-Path $Module) 'KvmHost.Core.dll'
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$Module'
Add-Type -IgnoreWarnings -ReferencedAssemblies '$core' -TypeDefinition @'
public static class BenchLoop {
    public static double Read(string path, int n) {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < n; i++) { System.GC.KeepAlive(System.IO.File.ReadAllBytes(path)); }
        return clock.Elapsed.TotalMilliseconds / n;
    }
    public static double Probe(KvmHost.Core.Platform.HostSystem root, int n) {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < n; i++) { System.GC.KeepAlive(KvmHost.Core.Cpu.KvmCpuProbe.Probe(root)); }
        return clock.Elapsed.TotalMilliseconds / n;
    }
}
'@
foreach (`$case in (ConvertFrom-Json '$(ConvertTo-Json -Compress @($roots))')) {
    # Fewer calls on the big file: the same bytes read in total, so each sample takes about as long.
    `$n = [math]::Max(10, [int]($Iterations * 384 / `$case.Count))
    `$root = [KvmHost.Core.Platform.HostSystem]::Open([KvmHost.Core.Platform.HostRoot]::Open(`$case.Root), [KvmHost.Core.Platform.CommandRunner]::new(`$null), [Threading.CancellationToken]::None)
    `$null = [BenchLoop]::Read(`$case.Path, 10); `$null = [BenchLoop]::Probe(`$root, 10)
    `$reads = @(); `$probes = @(); `$cmdlets = @()
    foreach (`$s in 1..$Samples) {
        `$reads += [BenchLoop]::Read(`$case.Path, `$n)
        `$probes += [BenchLoop]::Probe(`$root, `$n)
        if (`$case.Count -eq $($Count[0])) {
            if (`$s -eq 1) { foreach (`$i in 1..20) { `$null = Test-KvmCpuSupport -Root `$case.Root } }
            `$clock = [Diagnostics.Stopwatch]::StartNew()
            foreach (`$i in 1..`$n) { `$null = Test-KvmCpuSupport -Root `$case.Root }
            `$cmdlets += `$clock.Elapsed.TotalMilliseconds / `$n
        }
    }
    `$middle = [int][math]::Floor($Samples / 2)
    [pscustomobject]@{
        Count = `$case.Count; Size = `$case.Size; Calls = `$n
        Read = (`$reads | Sort-Object)[`$middle]; Probe = (`$probes | Sort-Object)[`$middle]
        Cmdlet = if (`$cmdlets) { (`$cmdlets | Sort-Object)[`$middle] } else { `$null }
        Counted = (Test-KvmCpuSupport -Root `$case.Root).LogicalProcessorCount
    } | ConvertTo-Json -Compress
}
"@
    $answer = & $Pwsh[0] @($Pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -c $script
    if ($LASTEXITCODE -ne 0) { throw "CpuParse child pwsh failed: $answer" }
    foreach ($result in @($answer | Where-Object { $_ -like '{*' } | ConvertFrom-Json)) {
        if ($result.Counted -ne $result.Count) { throw "Test-KvmCpuSupport counted $($result.Counted) CPUs in the $($result.Count)-CPU file" }
        $ratio = $result.Probe / $result.Read
        [pscustomobject]@{
            Benchmark = 'Warm: KvmCpuProbe.Probe on a {0}-CPU RHEL 9 cpuinfo ({1:N0} KB) vs File.ReadAllBytes of it' -f $result.Count, ($result.Size / 1KB)
            Baseline = '{0:N3} ms' -f $result.Read; KvmHost = '{0:N3} ms' -f $result.Probe
            Ratio = '{0:N2}' -f $ratio; Target = '<= 1.5'; TargetRatio = 1.5; Label = "Warm: Probe, $($result.Count) CPUs, vs ReadAllBytes"; Met = $ratio -le 1.5
            Note = 'median of {0} samples of {1} calls each, alternating with the baseline, one process, loops in C#' -f $Samples, $result.Calls
        }
        if ($null -ne $result.Cmdlet) {
            [pscustomobject]@{
                Benchmark = "Warm: Test-KvmCpuSupport -Root (the cmdlet, through the PowerShell pipeline) on the $($result.Count)-CPU file vs File.ReadAllBytes"
                Baseline = '{0:N3} ms' -f $result.Read; KvmHost = '{0:N3} ms' -f $result.Cmdlet
                Ratio = '{0:N2}' -f ($result.Cmdlet / $result.Read); Target = 'none (adds parameter binding and the pipeline)'; Met = ''
                Note = 'for reference'
            }
        }
    }
}
finally {
    Remove-Item $scratch -Recurse -Force -ErrorAction SilentlyContinue
}
