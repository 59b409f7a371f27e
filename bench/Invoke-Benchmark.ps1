<#
.SYNOPSIS
    Side-by-side benchmarks of KvmHost; prints ratios against a baseline measured in the same run.
.DESCRIPTION
    Every figure is a ratio against something measured moments before or after on the same machine
    (interleaved runs, medians), so a busy or slow machine still gives comparable numbers. Results go
    to bench/results/<date>-<suites>.md with the machine and date, and an SVG chart of the ratios
    against their targets. No test asserts on time.
    Each suite is a script bench/Measure-<Suite>.ps1 that returns rows (or one row with a Skipped reason);
    it runs in its own child pwsh (suites import the module or change PATH) and gets, of the values below,
    the ones its parameters name: Module, Pwsh, WorkDirectory, StubRepo, ReadyToRunPwsh and the knobs.
    A new suite file is picked up by name.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./bench/Invoke-Benchmark.ps1
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File ./bench/Invoke-Benchmark.ps1 -Suite Converged -ConvergedRounds 7
.PARAMETER Suite
    ColdStart, CpuParse and Scale's -Root half run anywhere; Converged, Packages, Fleet, Guests and Scale's live
    half need root (systemd boxes, dnf into installroots, network namespaces, a guest lab with its own libvirtd),
    Converged also Debian's ansible and strace. A suite that cannot run here says why in the results file.
#>
param(
    [ArgumentCompleter({ Get-ChildItem (Join-Path $PSScriptRoot 'Measure-*.ps1') | ForEach-Object { $_.BaseName -replace '^Measure-' } })]
    [string[]] $Suite,
    [int] $ColdRuns = 15,
    [int] $WarmIterations = 200,
    [int] $ConvergedRounds = 3,
    [int[]] $MissingPackages = @(1, 3, 6),
    [int] $FleetRepeat = 3,
    [int] $ScaleIterations = 20
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
$module = Join-Path $repo 'out/KvmHost/KvmHost.psd1'
if (-not (Test-Path $module)) { throw "Build first: dotnet tool run pwsh -NoProfile -File ./build.ps1" }
Import-Module (Join-Path $repo 'tests/harness/Harness.psm1')
$pwsh = @(Get-HarnessPwshCommand)
$available = @(Get-ChildItem (Join-Path $PSScriptRoot 'Measure-*.ps1') | ForEach-Object { $_.BaseName -replace '^Measure-' } | Sort-Object {
    # The historical order first; suites added later run after them.
    $at = [array]::IndexOf([string[]] @('ColdStart', 'CpuParse', 'Converged', 'Packages', 'Fleet', 'Scale'), $_); if ($at -lt 0) { 99 } else { $at } })
# `pwsh -File` passes `-Suite ColdStart,Guests` as one string (the README's form): split it.
$Suite = @($Suite | ForEach-Object { $_ -split ',' } | ForEach-Object Trim | Where-Object { $_ })
if (-not $Suite) { $Suite = $available }
$unknown = @($Suite | Where-Object { $_ -notin $available })
if ($unknown) { throw "Unknown suite(s) $($unknown -join ', '); bench/ has $($available -join ', ')" }
$workDirectory = Join-Path $repo 'out/bench'
$null = New-Item -ItemType Directory -Path $workDirectory -Force

$machine = "$(hostname), $([Environment]::ProcessorCount) cores, $([math]::Round([double]((Get-Content /proc/meminfo -TotalCount 1) -replace '\D') / 1MB)) GiB, $((Get-Content /proc/cpuinfo | Select-String -Pattern '^model name' | Select-Object -First 1).Line -replace '^model name\s*:\s*')"
$rows = [Collections.Generic.List[object]]::new()
$skipped = [Collections.Generic.List[string]]::new()
$values = @{
    Module = $module; Pwsh = $pwsh; WorkDirectory = $workDirectory
    Runs = $ColdRuns; Iterations = $WarmIterations; Rounds = $ConvergedRounds; Missing = $MissingPackages; Repeat = $FleetRepeat
    ScaleIterations = $ScaleIterations
}
$parameters = @{}
foreach ($name in $Suite) { $parameters[$name] = (Get-Command (Join-Path $PSScriptRoot "Measure-$name.ps1")).Parameters.Keys }
$needs = { param($key) @($Suite | Where-Object { $key -in $parameters[$_] }) }

$stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-stubs-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
try {
    if (& $needs 'ReadyToRunPwsh') {
        try { $values.ReadyToRunPwsh = & (Join-Path $PSScriptRoot 'New-ReadyToRunPwsh.ps1') -Destination (Join-Path $workDirectory "pwsh-r2r-$($PSVersionTable.PSVersion)") }
        catch { Write-Warning "No ReadyToRun pwsh: $_" }
    }
    if (& $needs 'StubRepo') {
        Import-Module (Join-Path $repo 'tests/harness/StubRepo.psm1') -Force
        $noStubs = Test-StubRepoSupported
        if (-not $noStubs) { $values.StubRepo = New-StubRepo -Path $stubs -Profile rhel9 }
    }
    foreach ($name in $Suite) {
        $script = Join-Path $PSScriptRoot "Measure-$name.ps1"
        $mandatory = @((Get-Command $script).Parameters.Values | Where-Object { $_.Attributes | Where-Object { $_ -is [Parameter] -and $_.Mandatory } } | ForEach-Object Name)
        $missing = @($mandatory | Where-Object { -not $values.ContainsKey($_) })
        if ($missing) {
            $why = if ('StubRepo' -in $missing -and $noStubs) { $noStubs } else { "no $($missing -join ', ') (see the warnings above)" }
            $skipped.Add("$name suite skipped: $why"); continue
        }
        $given = @{}; foreach ($key in $parameters[$name]) { if ($values.ContainsKey($key)) { $given[$key] = $values[$key] } }
        Write-Host "== $name" -ForegroundColor Cyan
        # A child pwsh per suite: a suite imports the module (this process must not hold it for the next build),
        # a fleet puts its ssh first on PATH. Its rows come back as one marked JSON line; the rest is progress.
        $command = @"
`$ErrorActionPreference = 'Stop'
`$given = ConvertFrom-Json -AsHashtable '$((ConvertTo-Json -Compress -Depth 4 $given) -replace "'", "''")'
foreach (`$key in @(`$given.Keys)) { if (`$given[`$key] -is [System.Collections.IList]) { `$given[`$key] = @(`$given[`$key]) } }
`$rows = @(& '$script' @given)
'KVMHOST-BENCH-ROWS ' + (ConvertTo-Json -Compress -Depth 4 -InputObject `$rows)
"@
        $json = $null
        & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $command 2>&1 | ForEach-Object {
            if ("$_" -like 'KVMHOST-BENCH-ROWS *') { $json = "$_".Substring(19) } else { Write-Host $_ }
        }
        if ($LASTEXITCODE -ne 0 -or -not $json) { $skipped.Add("$name suite failed (exit code $LASTEXITCODE); its output is above"); continue }
        foreach ($row in @($json | ConvertFrom-Json)) {
            if ($row.PSObject.Properties['Skipped']) { $skipped.Add($row.Skipped) } else { $rows.Add($row) }
        }
    }
} finally {
    if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
}

$rows | Format-Table -Wrap -AutoSize | Out-Host

$stamp = Get-Date -Format 'yyyy-MM-dd'
$suiteName = if ($Suite.Count -eq $available.Count) { 'all' } else { $Suite -join '-' }
$report = Join-Path $PSScriptRoot "results/$stamp-$suiteName.md"
$lines = @("# KvmHost benchmarks, $stamp", '', "Machine: $machine", "pwsh $($PSVersionTable.PSVersion), .NET $([Environment]::Version)", '',
    '| Benchmark | Baseline | KvmHost | Ratio | Target | Met | Note |', '|---|---|---|---|---|---|---|')
$lines += $rows | ForEach-Object { "| $($_.Benchmark) | $($_.Baseline) | $($_.KvmHost) | $($_.Ratio) | $($_.Target) | $($_.Met) | $($_.Note) |" }
if ($skipped.Count) { $lines += @('', '## Not measured here', '') + @($skipped | ForEach-Object { "- $_" }) }
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
