<#
.SYNOPSIS
    Scale of the host side: Get-HostBridge and Test-KvmHost on a host with 2 and with 200 network interfaces
    and NetworkManager profiles; the growth of a warm call from 2 to 200 and the processes each call starts.
    Returns benchmark rows.
.DESCRIPTION
    Two ways, each measured at 2 and at 200:
    - -Root: a RHEL 9 scratch root whose /etc/NetworkManager/system-connections holds N keyfiles (a bridge br0
      with its port, the rest plain ethernet profiles). Runs anywhere, no root needed.
    - Live (root only): a throw-away network namespace with its own NetworkManager (tests/harness NetLab), N-1
      dummy interfaces next to the lab's NIC and N profiles loaded into that NetworkManager; the cmdlets run
      inside it on the live root, so they read the running links and routes with ip as well.
    Each size is visited twice, alternating (2, 200, 2, 200: the live lab grows and shrinks), each visit a new
    pwsh; a visit's figure is the median of -ScaleIterations warm calls after two warm-up calls, and a size's
    figure the mean of its visits. Process starts are
    CommandRunner's "Running:" lines (-Verbose) of one call: a count that grows with N would be a per-item start.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string[]] $Pwsh,
    [int[]] $Size = @(2, 200),
    [int] $ScaleIterations = 20,
    # Only the -Root half (no namespace, no NetworkManager).
    [switch] $RootOnly
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent

function New-Keyfile([string] $Directory, [int] $First, [int] $Count) {
    # Profiles like NetworkManager's own: mode 0600, one per interface nicK, addresses 10.X.Y.1/24.
    for ($k = $First; $k -lt $First + $Count; $k++) {
        $text = if ($k -eq 0) {
            "[connection]`nid=br0`nuuid=$([guid]::NewGuid())`ntype=bridge`ninterface-name=br0`n`n[bridge]`nstp=false`n`n[ipv4]`naddress1=198.51.100.10/24,198.51.100.1`nmethod=manual`n`n[ipv6]`nmethod=disabled`n"
        } elseif ($k -eq 1) {
            "[connection]`nid=br0-port-nic1`nuuid=$([guid]::NewGuid())`ntype=ethernet`ninterface-name=nic1`ncontroller=br0`nport-type=bridge`n`n[ethernet]`n"
        } else {
            "[connection]`nid=nic$k`nuuid=$([guid]::NewGuid())`ntype=ethernet`ninterface-name=nic$k`nautoconnect=false`n`n[ipv4]`naddress1=10.$([math]::Floor($k / 250)).$($k % 250).1/24`nmethod=manual`n`n[ipv6]`nmethod=disabled`n"
        }
        $path = Join-Path $Directory "nic$k.nmconnection"
        [IO.File]::WriteAllText($path, $text)
        [IO.File]::SetUnixFileMode($path, [IO.UnixFileMode] 'UserRead, UserWrite')
    }
}

# Runs in a pwsh of its own: the warm median of each cmdlet and the processes one call starts.
$measure = @'
$ErrorActionPreference = 'Stop'
Import-Module '{0}'
$root = '{1}'
$out = [ordered]@{{}}
foreach ($name in 'Get-HostBridge', 'Test-KvmHost') {{
    $call = [scriptblock]::Create("`$null = $name -Root '$root'")
    & $call; & $call
    $VerbosePreference = 'Continue'
    $started = @(& $call 4>&1 | Where-Object {{ $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Running: *' }} | ForEach-Object {{ ($_.Message -replace '^Running: ') -replace ' \(timeout.*$' }})
    $VerbosePreference = 'SilentlyContinue'
    $times = foreach ($i in 1..{2}) {{ $clock = [Diagnostics.Stopwatch]::StartNew(); & $call; $clock.Elapsed.TotalMilliseconds }}
    $out[$name] = @{{ Ms = ($times | Sort-Object)[[int][math]::Floor({2} / 2)]; Started = $started }}
}}
'KVMHOST-SCALE ' + ($out | ConvertTo-Json -Compress -Depth 4)
'@
function Read-Measure($lines) {
    $line = @($lines | Where-Object { "$_" -like 'KVMHOST-SCALE *' })[-1]
    if (-not $line) { throw "the measuring pwsh printed no result: $($lines -join ' ')" }
    "$line".Substring(14) | ConvertFrom-Json
}

function New-ScaleRow([string] $Where, [hashtable] $BySize) {
    $small, $large = $Size[0], $Size[-1]
    foreach ($name in 'Get-HostBridge', 'Test-KvmHost') {
        # Mean of the visits' medians; the processes of the last visit (every visit starts the same ones).
        $a = [pscustomobject]@{ Ms = ($BySize[$small] | ForEach-Object { $_.$name.Ms } | Measure-Object -Average).Average; Started = $BySize[$small][-1].$name.Started }
        $b = [pscustomobject]@{ Ms = ($BySize[$large] | ForEach-Object { $_.$name.Ms } | Measure-Object -Average).Average; Started = $BySize[$large][-1].$name.Started }
        $perItem = @($b.Started).Count -gt @($a.Started).Count
        [pscustomobject]@{
            Benchmark = "Scale, $Where`: warm $name with $small vs $large interfaces and NetworkManager profiles"
            Baseline = '{0:N1} ms, {1} process(es)' -f $a.Ms, @($a.Started).Count
            KvmHost = '{0:N1} ms, {1} process(es)' -f $b.Ms, @($b.Started).Count
            Ratio = '{0:N2}' -f ($b.Ms / $a.Ms); Target = 'no per-item process starts (growth reported)'; Met = -not $perItem
            Note = "growth {0:N2}x for {1}x the items; processes at {2}: {3}" -f ($b.Ms / $a.Ms), ($large / $small), $large,
                $(if (@($b.Started).Count) { @($b.Started) -join '; ' } else { 'none' })
        }
    }
}

$scratch = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-scale-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
try {
    # -Root: everything from files. Each size is visited twice, alternating (2, 200, 2, 200), each visit a new
    # pwsh: the order and the machine's load drift hit both sizes alike; the result is the mean of the visits.
    $bySize = @{}
    foreach ($n in $Size) {
        $root = Join-Path $scratch "root-$n"
        $connections = Join-Path $root 'etc/NetworkManager/system-connections'
        $null = New-Item -ItemType Directory -Path $connections, (Join-Path $root 'etc/sysctl.d'), (Join-Path $root 'proc'), (Join-Path $root 'run/lock') -Force
        Copy-Item (Join-Path $repo 'tests/fixtures/os-release/rhel-9.6.os-release') (Join-Path $root 'etc/os-release')
        Copy-Item (Join-Path $repo 'tests/fixtures/cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt') (Join-Path $root 'proc/cpuinfo')
        New-Keyfile $connections 0 $n
        $bySize[$n] = [Collections.Generic.List[object]]::new()
    }
    foreach ($n in ($Size + $Size)) {
        $bySize[$n].Add((Read-Measure (& $Pwsh[0] @($Pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -c ($measure -f $Module, (Join-Path $scratch "root-$n"), $ScaleIterations))))
    }
    New-ScaleRow '-Root (keyfiles in a RHEL 9 scratch root)' $bySize

    if ($RootOnly) { return }
    # Live: a namespace with its own NetworkManager.
    Import-Module (Join-Path $repo 'tests/harness/NetLab.psm1') -Force
    $reason = Test-NetLabSupported -NetworkManager
    if ($reason) { return [pscustomobject]@{ Skipped = "Scale suite, live half skipped: $reason" } }
    $lab = New-NetLab
    try {
        $nm = Start-NetLabNetworkManager -Name $lab.LAB
        $bySize = @{}; foreach ($n in $Size) { $bySize[$n] = [Collections.Generic.List[object]]::new() }
        $have = 2
        $null = New-Item -ItemType Directory -Path $scratch -Force
        New-Keyfile $nm.SYSTEM_CONNECTIONS_DIR 0 2
        foreach ($n in ($Size + $Size)) {
            # Grow or shrink to n: the lab has its NIC (kvmt0) and lo; more links are dummies nic2.., with one
            # profile each (profiles nic0 and nic1 are the bridge and its port).
            $batch = Join-Path $scratch "links-$n"
            $lines = if ($n -gt $have) { for ($k = $have; $k -lt $n; $k++) { "link add nic$k type dummy"; "link set nic$k up" } }
                     else { for ($k = $n; $k -lt $have; $k++) { "link del nic$k" } }
            if ($lines) {
                Set-Content $batch $lines
                $null = Invoke-InNetLab -Name $lab.LAB -Command @('ip', '-batch', $batch)
            }
            if ($n -gt $have) { New-Keyfile $nm.SYSTEM_CONNECTIONS_DIR $have ($n - $have) }
            else { for ($k = $n; $k -lt $have; $k++) { Remove-Item (Join-Path $nm.SYSTEM_CONNECTIONS_DIR "nic$k.nmconnection") } }
            $null = Invoke-NetLabNmcli -Name $lab.LAB -Arguments @('connection', 'reload')
            $have = $n
            $run = Invoke-InNetLab -Name $lab.LAB -NetworkManager -TimeoutSec 600 -Command (@($Pwsh) + @('-NoProfile', '-NonInteractive', '-c', ($measure -f $Module, '/', $ScaleIterations)))
            if ($run.ExitCode -ne 0) { throw "pwsh in the lab exited $($run.ExitCode): $($run.StdErr)" }
            $bySize[$n].Add((Read-Measure $run.Output))
        }
        New-ScaleRow 'live (a network namespace with its own NetworkManager)' $bySize
    }
    finally {
        Stop-NetLabNetworkManager -Name $lab.LAB
        Remove-NetLab -Name $lab.LAB
    }
}
finally {
    Remove-Item $scratch -Recurse -Force -ErrorAction SilentlyContinue
}
