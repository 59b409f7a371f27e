<#
.SYNOPSIS
    KvmHost through SSH remoting on Count hosts against 1 host, on a throw-away fleet (the test harness's
    Fleet.psm1). Returns benchmark rows, and prints the fleet's boot, session and deployment times.
.DESCRIPTION
    Fleet boxes are dressed as this machine's own Debian, which has no stub repository, so the package
    step names the Debian packages that are already there (-NoDefaultPackages -Name ...): dpkg-query
    checks them, apt-get runs only if one were missing. After a first run on every host (which converges
    them), each round times the call on one open session and then on all of them (Invoke-Command
    -Session, in parallel), and the same as one-shot calls (-HostName: connect, start pwsh, import, run).
    Invoke-Benchmark.ps1 -Suite Fleet runs it; tests/harness/Fleet.md's numbers come from it too.
.PARAMETER Call
    Setup: the converged setup pipeline (the benchmark). Probe: Import-Module KvmHost; Test-KvmCpuSupport,
    which leaves remoting and pwsh's start as most of what is timed.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File bench/Measure-Fleet.ps1 -Count 3 -Repeat 5 -Call Probe
#>
param(
    [string] $Module = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/KvmHost/KvmHost.psd1'),
    [ValidateRange(2, 20)] [int] $Count = 4,
    [ValidateRange(1, 100)] [int] $Repeat = 3,
    [ValidateSet('Setup', 'Probe')] [string] $Call = 'Setup'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $repo 'tests/harness/Fleet.psm1') -Force
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$reason = Test-TestFleetSupported
if ($reason) { return [pscustomobject]@{ Skipped = "Fleet suite skipped: $reason" } }

$packages = @(& dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' qemu-system-x86 libvirt-daemon-system libvirt-clients 2>$null |
    Where-Object { $_ -match ' ii\s*$' } | ForEach-Object { ($_ -split ' ')[0] })
$setup = if ($Call -eq 'Probe') { { Import-Module KvmHost; $null = Test-KvmCpuSupport } } else {
    [scriptblock]::Create(@"
Import-Module KvmHost
`$null = Test-KvmCpuSupport | Install-KvmPackages -Force -NoDefaultPackages -Name $($packages -join ', ') | Enable-Libvirtd
`$null = Set-IpForwarding
"@)
}
$callText = if ($Call -eq 'Probe') { 'Import-Module KvmHost; Test-KvmCpuSupport' } else { 'converged setup' }
$moduleDirectory = Split-Path (Resolve-Path $Module).ProviderPath
$version = (Import-PowerShellDataFile $Module).ModuleVersion

$fleet = New-TestFleet -Count $Count
$sessions = @()
try {
    Write-Host ('Fleet: {0} boxes up (booted in parallel, linked, sshd started) in {1:N1} s' -f $Count, $fleet.BootTime.TotalSeconds)
    $all = $fleet.SessionParameters
    $one = $all.Clone()
    $one.HostName = $fleet.Hosts[0].HostName
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $sessions = @(New-PSSession @all)
    Write-Host ('Fleet: New-PSSession to {0} hosts in {1:N1} s' -f $Count, $clock.Elapsed.TotalSeconds)
    $clock.Restart()
    foreach ($session in $sessions) {
        Copy-Item $moduleDirectory -Destination "/usr/local/share/powershell/Modules/KvmHost/$version" -ToSession $session -Recurse -Force
    }
    Write-Host ('Fleet: Copy-Item -ToSession of the module to {0} hosts, one after the other, in {1:N1} s' -f $Count, $clock.Elapsed.TotalSeconds)
    $null = Invoke-Command -Session $sessions $setup   # converges every host, first import; not what is measured

    $times = @{ OpenOne = [Collections.Generic.List[double]]::new(); OpenAll = [Collections.Generic.List[double]]::new()
                ShotOne = [Collections.Generic.List[double]]::new(); ShotAll = [Collections.Generic.List[double]]::new() }
    for ($i = 0; $i -lt $Repeat; $i++) {
        # Interleaved, so load drift hits 1 and 4 hosts alike.
        $times.OpenOne.Add((Measure-Command { $null = Invoke-Command -Session $sessions[0] $setup }).TotalMilliseconds)
        $times.OpenAll.Add((Measure-Command { $null = Invoke-Command -Session $sessions -ThrottleLimit $Count $setup }).TotalMilliseconds)
        $times.ShotOne.Add((Measure-Command { $null = Invoke-Command @one $setup }).TotalMilliseconds)
        $times.ShotAll.Add((Measure-Command { $null = Invoke-Command @all $setup }).TotalMilliseconds)
        Write-Host ("Fleet round {0}: open session 1 host {1:N0} ms, {2} hosts {3:N0} ms; one-shot 1 host {4:N0} ms, {2} hosts {5:N0} ms" -f
            ($i + 1), $times.OpenOne[$i], $Count, $times.OpenAll[$i], $times.ShotOne[$i], $times.ShotAll[$i])
    }
    $load = (Get-Content /proc/loadavg).Split(' ')[0..2] -join ' '
    foreach ($kind in @(@{ Key = 'Open'; Text = 'on open sessions (Invoke-Command -Session)' }, @{ Key = 'Shot'; Text = 'one-shot (Invoke-Command -HostName: ssh, pwsh start, import)' })) {
        $single = Get-Median $times["$($kind.Key)One"]; $many = Get-Median $times["$($kind.Key)All"]
        [pscustomobject]@{
            Benchmark = "Fleet: $callText through SSH remoting, $($kind.Text), $Count hosts vs 1 host"
            Baseline = '{0:N0} ms' -f $single; KvmHost = '{0:N0} ms' -f $many
            Ratio = '{0:N2}' -f ($many / $single); Target = "none set ($Count = serial, 1 = perfectly parallel)"; Met = ''
            Note = "median of $Repeat interleaved rounds; $Count boxes share this machine's $([Environment]::ProcessorCount) cores (load $load); Debian boxes, packages $($packages -join ' ')"
        }
    }
}
finally {
    if ($sessions) { $sessions | Remove-PSSession }
    Remove-TestFleet $fleet
}
