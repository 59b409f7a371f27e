<#
.SYNOPSIS
    The whole setup (CPU check, packages, libvirt units, a NetworkManager bridge, IPv4 forwarding) with KvmHost's
    pipeline and with the same steps as an Ansible playbook, each in its own fresh RHEL-9-dressed systemd box:
    the converging run, then the converged (no-op) runs. Returns benchmark rows.
.DESCRIPTION
    Twin boxes with the stub repository, NetworkManager running (no automatic profiles) and a NIC enp1s0 with a
    static address whose peer, enp1s0p, answers as the gateway. KvmHost converges box K first (which also says
    which packages and units the playbook must hold), Ansible converges box A; each converging run is timed once.
    Then each round times, on its own box, a converged KvmHost run from a new pwsh (the .NET tool's IL pwsh and
    a ReadyToRun copy, as admins' packaged pwsh is) and a converged ansible-playbook run, all started the same
    way (box.sh exec). Inside one long-lived pwsh the pipeline is also timed warm. Child processes of a converged
    run are counted twice: CommandRunner's "Running:" lines, and execve calls under strace. Files written are
    those under / (one filesystem) newer than a marker taken just before the run.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string[]] $Pwsh,
    [Parameter(Mandatory)] [string] $StubRepo,
    # pwsh.dll of a ReadyToRun pwsh (bench/New-ReadyToRunPwsh.ps1); without it only the tool's pwsh is timed.
    [string] $ReadyToRunPwsh,
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $repo 'tests/harness/SystemdBox.psm1') -Force
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$reason = Test-TestBoxSupported
if (-not $reason -and -not (Get-Command ansible-playbook -CommandType Application -ErrorAction Ignore)) { $reason = "it needs Debian's ansible (apt-get install ansible)" }
if (-not $reason -and -not (Get-Command strace -CommandType Application -ErrorAction Ignore)) { $reason = "it needs strace" }
if (-not $reason -and -not (Get-Command NetworkManager -CommandType Application -ErrorAction Ignore)) { $reason = "it needs NetworkManager (Debian package network-manager) for the bridge step" }
if ($reason) { return [pscustomobject]@{ Skipped = "Converged suite skipped: $reason" } }

# The README's pipelines: New-HostBridge pipes into Set-IpForwarding (the host lock is re-entrant on the pipeline's thread).
$bridge = @{ Name = 'br0'; Port = 'enp1s0'; Address = '192.0.2.10/24'; Gateway = '192.0.2.1' }
$setup = "Test-KvmCpuSupport | Install-KvmPackages -Force | Enable-Libvirtd; New-HostBridge $($bridge.Name) -Interface $($bridge.Port) -IPAddress $($bridge.Address) -Gateway $($bridge.Gateway) -Force | Set-IpForwarding"
$prelude = "`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; Import-Module '$Module'; "
$suffix = [guid]::NewGuid().ToString('N').Substring(0, 6)
$kvmBox = "kvmh-bench-k$suffix"; $ansibleBox = "kvmh-bench-a$suffix"
$work = Join-Path ([IO.Path]::GetTempPath()) "kvmh-bench-$suffix"
$null = New-Item -ItemType Directory -Path $work
$shells = [ordered]@{ 'tool pwsh (IL)' = $Pwsh }
if ($ReadyToRunPwsh) { $shells['ReadyToRun pwsh'] = @($Pwsh[0], $ReadyToRunPwsh) }
function Get-PwshInBox([string[]] $shell) { @('env', 'NO_COLOR=1', 'TERM=dumb') + $shell + @('-NoProfile', '-NonInteractive', '-Command') }

function Invoke-Box([string] $Box, [string[]] $Command, [int] $Timeout = 600) {
    $result = Invoke-TestBox -Name $Box -Command $Command -AllowFailure -TimeoutSec $Timeout
    if ($result.ExitCode -ne 0) { throw "in box ${Box}: $($Command[-1]) exited $($result.ExitCode): $($result.StdErr)$($result.StdOut)" }
    $result.StdOut
}

function Get-WrittenFile([string] $Box, [double] $Since) {
    # Regular files under the box's / (one filesystem: its overlay) modified since the given time. The
    # overlay's lower layer is this machine's live /, where others keep writing: a path that is new on
    # the machine too is theirs, not the box's. The journal is systemd's while the box runs, and
    # StartupProfileData is what every pwsh start writes, KvmHost or not.
    $stamp = '@' + $Since.ToString('F3', [Globalization.CultureInfo]::InvariantCulture)
    @((Invoke-Box $Box @('find', '/', '-xdev', '-newermt', $stamp, '-type', 'f', '-not', '-path', '/var/log/journal/*',
        '-not', '-path', '/root/.cache/powershell/*')) -split "`n" | Where-Object {
        $onMachine = if ($_) { Get-Item -LiteralPath $_ -Force -ErrorAction Ignore }
        $_ -and -not ($onMachine -and ([DateTimeOffset] $onMachine.LastWriteTimeUtc).ToUnixTimeMilliseconds() / 1000 -ge $Since)
    } | Where-Object {
        # A file gone from the box by now was a transient one of the machine's (someone's lock file), seen
        # through the overlay's lower layer while it existed.
        (Invoke-TestBox -Name $Box -Command @('test', '-e', $_) -AllowFailure -TimeoutSec 30).ExitCode -eq 0
    })
}

function Get-Now([string] $Box) { (Invoke-Box $Box @('date', '+%s.%N')).Trim() -as [double] }

function Get-ChildProcess([string] $Script) {
    # The processes a pwsh running Script starts, from strace: every successful execve after pwsh's own.
    $null = Invoke-Box $kvmBox (@('strace', '-f', '-qq', '-s', '80', '-e', 'trace=execve', '-e', 'signal=none', '-o', '/run/kvmhost-bench-strace') +
        (Get-PwshInBox $Pwsh) + $Script)
    $execs = @((Invoke-Box $kvmBox @('cat', '/run/kvmhost-bench-strace')) -split "`n" | Where-Object { $_ -match 'execve\(' -and $_ -notmatch '= -1 ' } |
        ForEach-Object { if ($_ -match 'execve\("([^"]+)", \[([^\]]*)\]') { ($Matches[2] -replace '", "', ' ').Trim('"') } })
    $self = [array]::FindIndex([string[]] $execs, [Predicate[string]] { param($line) $line.StartsWith($Pwsh[0]) -or $line.StartsWith((Split-Path $Pwsh[0] -Leaf)) })
    @($execs | Select-Object -Skip ($self + 1))
}

function Start-BenchBox([string] $Box) {
    # NetworkManager without its automatic DHCP profiles, the NIC's peer left to iproute2 as the gateway.
    $nmConf = "[main]`nno-auto-default=*`n`n[keyfile]`nunmanaged-devices=interface-name:$($bridge.Port)p`n"
    $null = Start-TestBox -Name $Box -OsRelease (Join-Path $repo 'tests/fixtures/os-release/rhel-9.6.os-release') `
        -Bind @{ '/srv/kvmhost-stub' = $StubRepo; '/srv/kvmhost-bench' = $work } `
        -Content @{ '/etc/yum.repos.d/kvmhost-stub.repo' = (Get-StubRepoDefinition '/srv/kvmhost-stub'); '/etc/NetworkManager/conf.d/90-kvmhost-bench.conf' = $nmConf }
    $peer = "$($bridge.Port)p"
    foreach ($command in @(
            @('ip', 'link', 'add', $bridge.Port, 'type', 'veth', 'peer', 'name', $peer),
            @('ip', 'addr', 'add', "$($bridge.Gateway)/24", 'dev', $peer), @('ip', 'link', 'set', $peer, 'up'),
            @('nmcli', 'general', 'reload'),
            @('nmcli', 'connection', 'add', 'type', 'ethernet', 'ifname', $bridge.Port, 'con-name', $bridge.Port, 'ipv4.method', 'manual',
                'ipv4.addresses', $bridge.Address, 'ipv4.gateway', $bridge.Gateway, 'ipv6.method', 'disabled'),
            @('nmcli', '--wait', '30', 'connection', 'up', $bridge.Port))) {
        $null = Invoke-Box $Box $command 60
    }
}

try {
    Import-Module (Join-Path $repo 'tests/harness/StubRepo.psm1') -Force
    Start-BenchBox $kvmBox
    Start-BenchBox $ansibleBox
    Write-Host "Converged: boxes $kvmBox and $ansibleBox up; converging KvmHost run"

    # The converging runs, one each. KvmHost's also says which packages and units the playbook must hold.
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $first = Invoke-Box $kvmBox ((Get-PwshInBox $Pwsh) + ($prelude + @"
`$packages = @(Test-KvmCpuSupport | Install-KvmPackages -Force)
`$state = `$packages | Enable-Libvirtd
`$bridge = New-HostBridge $($bridge.Name) -Interface $($bridge.Port) -IPAddress $($bridge.Address) -Gateway $($bridge.Gateway) -Force
`$null = `$bridge | Set-IpForwarding
[pscustomobject]@{
    Packages = @(`$packages | ForEach-Object Name)
    Units = @(`$state.Units | Where-Object { `$_.UnitFileState -eq 'enabled' } | ForEach-Object Name)
} | ConvertTo-Json -Compress
"@)) | ConvertFrom-Json
    $kvmConverge = $clock.Elapsed.TotalMilliseconds
    @{
        kvm_packages = @($first.Packages); libvirt_units = @($first.Units)
        bridge_name = $bridge.Name; bridge_port = $bridge.Port; bridge_address = $bridge.Address; bridge_gateway = $bridge.Gateway
    } | ConvertTo-Json | Set-Content (Join-Path $work 'vars.json')
    $playbook = @('env', 'ANSIBLE_NOCOLOR=1', 'ansible-playbook', '-i', 'localhost,', '-c', 'local',
        '-e', '@/srv/kvmhost-bench/vars.json', (Join-Path $PSScriptRoot 'ansible/converge.yml'))
    Write-Host "Converged: converging Ansible run: $($first.Packages.Count) packages, units $($first.Units -join ' ')"
    $clock.Restart()
    $ansibleFirst = Invoke-Box $ansibleBox $playbook
    $ansibleConverge = $clock.Elapsed.TotalMilliseconds
    $bridgeState = (Invoke-Box $kvmBox @('nmcli', '-t', '-f', 'NAME,DEVICE', 'connection', 'show', '--active')) -replace "`n", ' '
    $ansibleBridgeState = (Invoke-Box $ansibleBox @('nmcli', '-t', '-f', 'NAME,DEVICE', 'connection', 'show')) -replace "`n", ' '

    # Counting on the converged box: CommandRunner's lines and the files, in a pwsh already started.
    $countScript = $prelude + @"
`$null = & { $setup }   # warm: the first call pays for JIT, not for the host
Start-Sleep -Seconds 1   # a second apart from anything the warm-up or pwsh's start wrote
`$since = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() / 1000
`$VerbosePreference = 'Continue'
`$running = @(& { $setup } 4>&1 | Where-Object { `$_ -is [System.Management.Automation.VerboseRecord] -and `$_.Message -like 'Running: *' } | ForEach-Object Message)
`$VerbosePreference = 'SilentlyContinue'
`$times = foreach (`$i in 1..$([math]::Max(5, $Rounds * 3))) { `$clock = [Diagnostics.Stopwatch]::StartNew(); `$null = & { $setup }; `$clock.Elapsed.TotalMilliseconds }
# Where a warm run spends its time: each step alone, interleaved, medians.
`$steps = [ordered]@{
    Cpu = { Test-KvmCpuSupport }; Packages = { Install-KvmPackages -Force }; Libvirt = { Enable-Libvirtd }
    Bridge = { New-HostBridge $($bridge.Name) -Interface $($bridge.Port) -IPAddress $($bridge.Address) -Gateway $($bridge.Gateway) -Force }
    Forwarding = { Set-IpForwarding -Uplink $($bridge.Name) }
}
`$stepTimes = @{}; foreach (`$name in `$steps.Keys) { `$stepTimes[`$name] = [Collections.Generic.List[double]]::new() }
foreach (`$i in 1..$([math]::Max(5, $Rounds * 3))) { foreach (`$name in `$steps.Keys) { `$clock = [Diagnostics.Stopwatch]::StartNew(); `$null = & `$steps[`$name]; `$stepTimes[`$name].Add(`$clock.Elapsed.TotalMilliseconds) } }
`$stepMedians = [ordered]@{}; foreach (`$name in `$steps.Keys) { `$sorted = @(`$stepTimes[`$name] | Sort-Object); `$stepMedians[`$name] = `$sorted[[int][math]::Floor(`$sorted.Count / 2)] }
# What each lever bought, each measured against the path it replaced, interleaved, in this pwsh:
# systemd: Enable-Libvirtd with the bus out of reach (systemctl show twice; systemctl as root talks to systemd's own
# socket, not the bus) against over D-Bus; the network: the reader with three 'ip -j' runs against rtnetlink;
# NetworkManager: the two nmcli runs the bridge step made (nmcli itself needs the bus, so it cannot be switched off).
`$core = [KvmHost.Core.Platform.HostSystem].Assembly
`$readerType = `$core.GetType('KvmHost.Core.Bridge.LiveNetworkReader')
`$reader = [Activator]::CreateInstance(`$readerType, [Reflection.BindingFlags] 'Instance,Public,NonPublic', `$null, @([KvmHost.Core.Platform.CommandRunner]::new(`$null), [Activator]::CreateInstance(`$core.GetType('KvmHost.Core.Sysctl.KernelParameters'), `$true)), `$null)
`$withIp = `$readerType.GetMethod('ReadWithIp', [Reflection.BindingFlags] 'Instance,NonPublic'); `$withNetlink = `$readerType.GetMethod('TryNetlink', [Reflection.BindingFlags] 'Static,NonPublic')
`$levers = [ordered]@{
    LibvirtBus = { Enable-Libvirtd }
    LibvirtSystemctl = { `$env:DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/kvmhost-bench-no-bus'; try { Enable-Libvirtd } finally { `$env:DBUS_SYSTEM_BUS_ADDRESS = `$null } }
    NetworkIp = { `$withIp.Invoke(`$reader, @([Threading.CancellationToken]::None)) }
    NetworkNetlink = { `$withNetlink.Invoke(`$null, @()) }
    Nmcli = { `$null = & nmcli -t -f RUNNING general; `$null = & nmcli --version }
}
`$leverTimes = @{}; foreach (`$name in `$levers.Keys) { `$leverTimes[`$name] = [Collections.Generic.List[double]]::new(); `$null = & `$levers[`$name] }
foreach (`$i in 1..$([math]::Max(5, $Rounds * 3))) { foreach (`$name in `$levers.Keys) { `$clock = [Diagnostics.Stopwatch]::StartNew(); `$null = & `$levers[`$name]; `$leverTimes[`$name].Add(`$clock.Elapsed.TotalMilliseconds) } }
`$leverMedians = [ordered]@{}; foreach (`$name in `$levers.Keys) { `$sorted = @(`$leverTimes[`$name] | Sort-Object); `$leverMedians[`$name] = `$sorted[[int][math]::Floor(`$sorted.Count / 2)] }
[pscustomobject]@{ Running = `$running; Times = @(`$times); Since = `$since; Steps = `$stepMedians; Levers = `$leverMedians } | ConvertTo-Json -Compress
"@
    $inSession = Invoke-Box $kvmBox ((Get-PwshInBox $Pwsh) + $countScript) | ConvertFrom-Json
    $kvmFiles = @(Get-WrittenFile $kvmBox ([double] $inSession.Since))

    # The same in a new pwsh under strace, against the same pwsh importing the module and doing nothing:
    # what pwsh starts by itself is not the pipeline's.
    $children = @(Get-ChildProcess ($prelude + "`$null = & { $setup }"))
    $pwshOwn = @(Get-ChildProcess $prelude)

    $since = Get-Now $ansibleBox
    $ansibleRecap = Invoke-Box $ansibleBox $playbook
    $ansibleFiles = @(Get-WrittenFile $ansibleBox $since)

    # Interleaved rounds, each side on its own box: new pwsh + module + pipeline (each pwsh), then ansible-playbook.
    $kvmCold = @{}; foreach ($name in $shells.Keys) { $kvmCold[$name] = [Collections.Generic.List[double]]::new() }
    $ansible = [Collections.Generic.List[double]]::new()
    for ($i = 0; $i -lt $Rounds; $i++) {
        $line = "Converged round $($i + 1):"
        foreach ($name in $shells.Keys) {
            $clock.Restart()
            $null = Invoke-Box $kvmBox ((Get-PwshInBox $shells[$name]) + ($prelude + "`$null = & { $setup }"))
            $kvmCold[$name].Add($clock.Elapsed.TotalMilliseconds)
            $line += ' KvmHost, {0} {1:N0} ms;' -f $name, $clock.Elapsed.TotalMilliseconds
        }
        $clock.Restart()
        $null = Invoke-Box $ansibleBox $playbook
        $ansible.Add($clock.Elapsed.TotalMilliseconds)
        Write-Host ('{0} ansible-playbook {1:N0} ms' -f $line, $ansible[$i])
    }
    $a = Get-Median $ansible; $w = Get-Median ([double[]] $inSession.Times)
    $recap = { param($text) (($text -split "`n") | Where-Object { $_ -match 'ok=\d+' } | Select-Object -First 1) -replace '\s+', ' ' }
    $steps = 'five steps (CPU check, packages, libvirt units, NetworkManager bridge, IPv4 forwarding)'
    $strace = $children.Count - $pwshOwn.Count

    [pscustomobject]@{
        Benchmark = "Converged host, $steps`: converging run from a fresh box, KvmHost (tool pwsh, one sample) vs ansible-playbook (one sample)"
        Baseline = '{0:N0} ms' -f $ansibleConverge; KvmHost = '{0:N0} ms' -f $kvmConverge
        Ratio = '{0:N3}' -f ($kvmConverge / $ansibleConverge); Target = 'none set'; Met = ''
        Note = "twin boxes; Ansible's recap: $(& $recap $ansibleFirst). Active profiles after KvmHost: $bridgeState; profiles after Ansible: $ansibleBridgeState"
    }
    [pscustomobject]@{
        Benchmark = "Converged host: child processes started by a converged run"
        Baseline = "pwsh + Import-Module alone: $($pwshOwn.Count)"; KvmHost = "$(@($inSession.Running).Count) (CommandRunner) / $strace (strace execve beyond pwsh's own)"
        Ratio = ''; Target = '<= 1'; Met = $strace -le 1 -and @($inSession.Running).Count -le 1
        Note = 'CommandRunner: ' + (($inSession.Running | ForEach-Object { $_ -replace '^Running: ' }) -join '; ') + '. strace, pipeline: ' + ($children -join '; ') + '. strace, pwsh alone: ' + ($(if ($pwshOwn) { $pwshOwn -join '; ' } else { 'none' }))
    }
    [pscustomobject]@{
        Benchmark = "Converged host: files written by a converged run (find / -xdev -newermt, the machine's own changes taken out)"
        Baseline = "Ansible: $($ansibleFiles.Count)"; KvmHost = "$($kvmFiles.Count)"
        Ratio = ''; Target = '0'; Met = $kvmFiles.Count -eq 0
        Note = 'KvmHost: ' + $(if ($kvmFiles.Count) { $kvmFiles -join ' ' } else { 'none' }) + '; Ansible: ' + $(if ($ansibleFiles.Count) { ($ansibleFiles | Select-Object -First 6) -join ' ' } else { 'none' })
    }
    foreach ($name in $shells.Keys) {
        $c = Get-Median $kvmCold[$name]
        $target = if ($name -eq 'ReadyToRun pwsh') { 0.15 } else { $null }
        [pscustomobject]@{
            Benchmark = "Converged host: KvmHost from a new $name (start, import, pipeline) vs ansible-playbook"
            Baseline = '{0:N0} ms' -f $a; KvmHost = '{0:N0} ms' -f $c
            Ratio = '{0:N3}' -f ($c / $a); Target = $(if ($target) { "<= $target of Ansible" } else { 'none (the ReadyToRun row has the goal)' })
            TargetRatio = $target; Label = "Converged: new $name + pipeline vs ansible-playbook"; Met = $(if ($target) { ($c / $a) -le $target } else { '' })
            Note = "median of $Rounds interleaved rounds, each side on its own box, all started through box.sh exec; Ansible recap: $(& $recap $ansibleRecap)"
        }
    }
    $stepNote = ($inSession.Steps.PSObject.Properties | ForEach-Object { '{0} {1:N1} ms' -f $_.Name, $_.Value }) -join ', '
    $lever = $inSession.Levers
    [pscustomobject]@{
        Benchmark = 'Converged host, lever: systemd over D-Bus: warm Enable-Libvirtd with systemctl show (bus out of reach) vs over the bus'
        Baseline = '{0:N1} ms' -f $lever.LibvirtSystemctl; KvmHost = '{0:N1} ms' -f $lever.LibvirtBus
        Ratio = '{0:N2}' -f ($lever.LibvirtBus / $lever.LibvirtSystemctl); Target = 'none (what the lever buys)'; Met = ''
        Note = "same pwsh, interleaved medians; over the bus each unit read is two Manager calls (ListUnitsByNames, ListUnitFilesByPatterns), a converged run reads twice; without it systemctl show runs twice. Warm steps alone (medians): $stepNote"
    }
    [pscustomobject]@{
        Benchmark = "Converged host, lever: the running network from rtnetlink in-process vs three 'ip -j' runs"
        Baseline = '{0:N2} ms' -f $lever.NetworkIp; KvmHost = '{0:N2} ms' -f $lever.NetworkNetlink
        Ratio = '{0:N3}' -f ($lever.NetworkNetlink / $lever.NetworkIp); Target = 'none (what the lever buys)'; Met = ''
        Note = 'same pwsh, interleaved medians, links, addresses and routes only (IPv6 sysctls and rules are read the same way by both)'
    }
    [pscustomobject]@{
        Benchmark = 'Converged host, lever: NetworkManager over D-Bus: the two nmcli runs a converged bridge step made before (RUNNING, --version)'
        Baseline = '{0:N1} ms' -f $lever.Nmcli; KvmHost = 'two bus calls'
        Ratio = ''; Target = 'none (what the lever buys)'; Met = ''
        Note = 'nmcli needs the bus itself, so the process path cannot be timed inside the bridge step; this is the time those two processes take'
    }
    [pscustomobject]@{
        Benchmark = 'Converged host: KvmHost pipeline inside a running pwsh vs ansible-playbook'
        Baseline = '{0:N0} ms' -f $a; KvmHost = '{0:N1} ms' -f $w
        Ratio = '{0:N4}' -f ($w / $a); Target = '<= 0.02 of Ansible'; TargetRatio = 0.02; Label = 'Converged: pipeline in a running pwsh vs ansible-playbook'; Met = ($w / $a) -le 0.02
        Note = "median of $(@($inSession.Times).Count) runs in one pwsh after a warm-up run"
    }
}
finally {
    Stop-TestBox -Name $kvmBox
    Stop-TestBox -Name $ansibleBox
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}
