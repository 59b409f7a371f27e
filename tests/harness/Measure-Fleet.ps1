<#
.SYNOPSIS
    Times KvmHost over SSH remoting on a throw-away fleet: boot, deployment, one-shot calls and calls
    on open sessions, on one host and on all of them. Root only (systemd boxes).
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File tests/harness/Measure-Fleet.ps1 -Count 3 -Repeat 5
#>
param(
    [ValidateRange(2, 20)] [int] $Count = 3,
    [ValidateRange(1, 100)] [int] $Repeat = 5,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../../out/KvmHost/KvmHost.psd1')
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Fleet.psm1')
$reason = Test-TestFleetSupported
if ($reason) { throw "cannot measure: $reason" }
$moduleDirectory = Split-Path (Resolve-Path $ModulePath).ProviderPath
$version = (Import-PowerShellDataFile $ModulePath).ModuleVersion

function Measure-Median([scriptblock] $Action) {
    $times = foreach ($i in 1..$Repeat) { (Measure-Command { $null = & $Action }).TotalSeconds }
    ($times | Sort-Object)[[int][math]::Floor(($times.Count - 1) / 2)]
}

$fleet = New-TestFleet -Count $Count
$sessions = @()
try {
    $all = $fleet.SessionParameters
    $one = $all.Clone()
    $one.HostName = $fleet.Hosts[0].HostName
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $sessions = New-PSSession @all
    $openTime = $clock.Elapsed.TotalSeconds
    $clock.Restart()
    foreach ($session in $sessions) {
        Copy-Item $moduleDirectory -Destination "/usr/local/share/powershell/Modules/KvmHost/$version" -ToSession $session -Recurse -Force
    }
    $deployTime = $clock.Elapsed.TotalSeconds
    $call = { Import-Module KvmHost; Test-KvmCpuSupport }
    $null = Invoke-Command -Session $sessions $call   # first import on each host is not what we measure

    $oneShotOne = Measure-Median { Invoke-Command @one $call }
    $oneShotAll = Measure-Median { Invoke-Command @all $call }
    $openOne = Measure-Median { Invoke-Command -Session $sessions[0] $call }
    $openAll = Measure-Median { Invoke-Command -Session $sessions -ThrottleLimit $Count $call }
    [pscustomobject]@{
        Hosts                     = $Count
        Repeat                    = $Repeat
        LoadAverage               = (Get-Content /proc/loadavg).Split(' ')[0..2] -join ' '
        FleetBootSeconds          = [math]::Round($fleet.BootTime.TotalSeconds, 2)
        OpenSessionsSeconds       = [math]::Round($openTime, 2)
        DeployCopyItemSeconds     = [math]::Round($deployTime, 2)
        OneShotOneHostSeconds     = [math]::Round($oneShotOne, 2)
        OneShotAllHostsSeconds    = [math]::Round($oneShotAll, 2)
        OneShotRatio              = [math]::Round($oneShotAll / $oneShotOne, 2)
        OpenSessionOneHostSeconds = [math]::Round($openOne, 3)
        OpenSessionAllHostsSeconds = [math]::Round($openAll, 3)
        OpenSessionRatio          = [math]::Round($openAll / $openOne, 2)
    }
}
finally {
    if ($sessions) { $sessions | Remove-PSSession }
    Remove-TestFleet $fleet
}
