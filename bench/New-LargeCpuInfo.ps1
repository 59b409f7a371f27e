<#
.SYNOPSIS
    Writes a RHEL 9 style /proc/cpuinfo for N logical CPUs (default 384, about 0.8 MB) under a root.
.DESCRIPTION
    Each block is the real first block of a 2-socket Xeon E5-2650 v3 (tests/fixtures/cpuinfo) with its
    processor number, physical id and core id rewritten, plus the "vmx flags" line RHEL 9 kernels add.
#>
param([Parameter(Mandatory)] [string] $Root, [int] $Count = 384)
$fixture = Join-Path $PSScriptRoot '../tests/fixtures/cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt'
$block = ((Get-Content -Raw $fixture) -split "`n`n")[0]
$vmxFlags = 'vmx flags	: vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority apicv tsc_offset vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid ple shadow_vmcs pml ept_mode_based_exec tsc_scaling'
$builder = [Text.StringBuilder]::new()
for ($i = 0; $i -lt $Count; $i++) {
    $text = $block -replace '(?m)^processor\t: \d+', "processor`t: $i" `
                   -replace '(?m)^physical id\t: \d+', "physical id`t: $([math]::Floor($i / 96))" `
                   -replace '(?m)^core id\t\t: \d+', "core id`t`t: $($i % 48)"
    $null = $builder.Append($text).Append("`n").Append($vmxFlags).Append("`n`n")
}
$null = New-Item -ItemType Directory -Path (Join-Path $Root 'proc') -Force
[IO.File]::WriteAllText((Join-Path $Root 'proc/cpuinfo'), $builder.ToString())
Get-Item (Join-Path $Root 'proc/cpuinfo')
