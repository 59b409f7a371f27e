BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:hostileCases = . (Join-Path $PSScriptRoot 'Hardening.Cases.ps1')
    $script:notRoot = -not (Test-IsRoot)
    $script:noNamespace = $script:notRoot -or -not (Get-Command unshare -ErrorAction SilentlyContinue)
    $script:noSetpriv = $script:notRoot -or -not (Get-Command setpriv -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    $script:secret = 'Hx7-s3cret-psk-' + [guid]::NewGuid().ToString('N').Substring(0, 8)

    function New-HostileWorld {
        # A folder holding the hostile root and what sits around it: a file and a loop to pass as -Root, roots with
        # bad os-release files, and an 'outside' folder that links inside the root point at.
        $world = New-ScratchRoot -Directories 'outside', 'root/etc/sysctl.d', 'os-binary/etc', 'os-huge/etc', 'os-garbage/etc' -Files @{
            'outside/victim.conf'             = "net.ipv4.ip_forward = 0`n"
            'a-file'                          = "not a root`n"
            'root/etc/passwd'                 = "root:x:0:0:root:/root:/bin/bash`n"
            'root/etc/resolv.conf'            = "nameserver 192.0.2.53`n"
            'root/etc/sysctl.d/85-huge.conf'  = ("# padding`n" * 160000)
            'os-huge/etc/os-release'          = ("# padding`n" * 10000) + "ID=rhel`nVERSION_ID=9.6`n"
            'os-garbage/etc/os-release'       = "this is not an os-release file`n"
            'root/etc/NetworkManager/system-connections/enp7s0.nmconnection' = "interface-name=enp7s0`naddress1=10.0.0.2/24`n"
            'ifcfg/etc/sysconfig/network-scripts/ifcfg-eth0' = "DEVICE=eth0`nIPADDR=`"10.0.0.2`nreboot`"`nPREFIX=24`nONBOOT=yes`n"
        } -Fixtures @{
            'root/etc/os-release'               = 'os-release/rhel-9.6.os-release'
            'root/etc/sysctl.conf'              = 'sysctl/rhel7-etc-sysctl.conf'
            'root/usr/lib/sysctl.d/50-default.conf' = 'sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf'
            'ifcfg/etc/os-release'              = 'os-release/centos-7.os-release'
        }
        [IO.File]::WriteAllBytes("$world/root/etc/sysctl.d/80-binary.conf", [byte[]](0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 0))
        [IO.File]::WriteAllBytes("$world/os-binary/etc/os-release", [byte[]](0x49, 0x44, 0x3d, 0, 0xff, 0xfe, 0x0a))
        $null = New-Item -ItemType SymbolicLink -Path "$world/root/etc/sysctl.d/99-sysctl.conf" -Target '../sysctl.conf'
        $null = New-Item -ItemType SymbolicLink -Path "$world/root/etc/sysctl.d/escape" -Target '../../../outside'
        $null = New-Item -ItemType SymbolicLink -Path "$world/root/etc/sysctl.d/70-loop.conf" -Target '70-loop.conf'
        $null = New-Item -ItemType SymbolicLink -Path "$world/loop" -Target "$world/loop"
        $world
    }

    function Expand-CaseParameters([hashtable] $Parameters, [string] $World) {
        $expanded = @{ Root = '{root}' }
        foreach ($entry in $Parameters.GetEnumerator()) { $expanded[$entry.Key] = $entry.Value }
        foreach ($key in @($expanded.Keys)) {
            if ($expanded[$key] -is [string]) { $expanded[$key] = $expanded[$key].Replace('{root}', "$World/root").Replace('{world}', $World) }
        }
        $expanded
    }

    function Get-CmdletClass([string] $Cmdlet) { 'KvmHost.Commands.' + $Cmdlet.Replace('-', '') + 'Command' }

    function Start-ChildPwsh([string] $Script, [hashtable] $Environment = @{}) {
        # A child pwsh with the built module and stdout redirected, for tests that kill it or run it in parallel.
        $pwsh = Get-PwshInvocation
        $info = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
        foreach ($argument in @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command', "Import-Module '$(Get-KvmHostModulePath)'; $Script")) {
            $info.ArgumentList.Add($argument)
        }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        foreach ($entry in $Environment.GetEnumerator()) { $info.Environment[$entry.Key] = $entry.Value }
        [Diagnostics.Process]::Start($info)
    }
}

Describe 'Hostile input: a terminating error with a stable ErrorId, and not one byte changed' -Tag Hardening {
    BeforeAll { $script:world = New-HostileWorld }
    AfterAll { Remove-ScratchRoot $script:world }

    It '<Cmdlet>: <Case> -> <ErrorId>' -ForEach $hostileCases {
        $parameters = Expand-CaseParameters $Parameters $script:world
        $before = Get-TreeHash $script:world
        { & $Cmdlet @parameters -ErrorAction Stop -WarningAction SilentlyContinue } |
            Should -Throw -ErrorId "$ErrorId,$(Get-CmdletClass $Cmdlet)"
        Get-TreeHash $script:world | Should -Be $before
    }

    It 'has at least 40 cases covering every cmdlet that takes a path, a name or a root' {
        $hostileCases.Count | Should -BeGreaterOrEqual 40
        ($hostileCases.Cmdlet | Sort-Object -Unique) | Should -Be @('Enable-Libvirtd', 'Get-IpForwarding', 'Get-KvmPackages', 'Get-Libvirtd',
            'Install-KvmPackages', 'New-HostBridge', 'Remove-HostBridge', 'Set-IpForwarding', 'Test-KvmCpuSupport', 'Test-KvmHost')
    }
}

Describe 'SIGKILL in the middle of writing a config file' -Tag Hardening {
    BeforeAll {
        # A big sysctl.conf that the child rewrites in a loop, flipping ip_forward: old and new differ in one byte.
        $padding = -join (1..4000 | ForEach-Object { "# kernel tuning note $_ for this host, kept by the admin`n" })
        $script:versions = @(0, 1) | ForEach-Object { "$padding" + "net.ipv4.ip_forward = $_`n" }
        $script:root = New-ScratchRoot -Files @{ 'etc/sysctl.conf' = $script:versions[0] } -Directories 'etc/sysctl.d'
        $script:child = @"
`$on = `$true
[Console]::Out.WriteLine('ready'); [Console]::Out.Flush()
while (`$true) { `$null = Set-IpForwarding -Root '$($script:root)' -Path /etc/sysctl.conf -Enabled:`$on -WarningAction SilentlyContinue; `$on = -not `$on }
"@
    }
    AfterAll { Remove-ScratchRoot $script:root }

    It 'leaves sysctl.conf old or new after each of 8 kills at random moments, backups whole, only hidden temp files' {
        $random = [Random]::new(8)
        $kills = 0
        for ($i = 0; $i -lt 8; $i++) {
            $process = Start-ChildPwsh $script:child
            try {
                $process.StandardOutput.ReadLine() | Should -Be 'ready'
                Start-Sleep -Milliseconds $random.Next(30, 700)
                if (-not $process.HasExited) { $process.Kill(); $kills++ } # Process.Kill sends SIGKILL on Unix
                $process.WaitForExit()
            } finally { if (-not $process.HasExited) { $process.Kill() } }
            $text = [IO.File]::ReadAllText("$($script:root)/etc/sysctl.conf")
            $text -in $script:versions | Should -BeTrue -Because "after kill $i the file must be the old or the new one, never partial"
        }
        $kills | Should -Be 8

        $etc = Get-ChildItem -LiteralPath "$($script:root)/etc" -File -Force
        $backups = @($etc | Where-Object Name -Match '^sysctl\.conf\.kvmhost-\d{8}T\d{9}(-\d+)?\.bak$')
        $temps = @($etc | Where-Object Name -Match '^\.sysctl\.conf\.kvmhost-[0-9a-f]{32}\.tmp$')
        $backups.Count | Should -BeGreaterThan 0 -Because 'the children wrote before they were killed'
        foreach ($backup in $backups) { [IO.File]::ReadAllText($backup.FullName) -in $script:versions | Should -BeTrue }
        @($etc | Where-Object { $_ -notin $backups -and $_ -notin $temps }).Name | Should -Be @('sysctl.conf')

        # What a killed run left behind is removed by the next run once it is clearly stale.
        foreach ($temp in $temps) { $temp.LastWriteTimeUtc = [DateTime]::UtcNow.AddMinutes(-2) }
        # (The next run that writes it: flip the value so that this one does.)
        $wasOn = [IO.File]::ReadAllText("$($script:root)/etc/sysctl.conf") -eq $script:versions[1]
        $null = Set-IpForwarding -Root $script:root -Path /etc/sysctl.conf -Enabled:(-not $wasOn) -WarningAction SilentlyContinue
        @(Get-ChildItem -LiteralPath "$($script:root)/etc" -Force -Filter '.sysctl.conf.kvmhost-*.tmp') | Should -HaveCount 0
        [IO.File]::ReadAllText("$($script:root)/etc/sysctl.conf") | Should -Be $script:versions[[int](-not $wasOn)]
    }
}

Describe "A read-only /etc and a full file system (private mount namespace)$(if ($noNamespace) { ' (skipped: needs root and unshare for a private mount namespace)' })" -Tag Hardening -Skip:($noNamespace) {
    BeforeAll {
        $script:readOnly = New-ScratchRoot -Files @{ 'etc/sysctl.d/90-kvmhost-forwarding.conf' = "net.ipv4.ip_forward = 0`n" }
        $script:full = New-ScratchRoot -Directories 'etc/sysctl.d'
        # 40 KiB that must be rewritten whole: the new copy does not fit next to the old one in 64 KiB.
        $script:fullText = ("# filler line for the full-disk test`n" * 1100) + "net.ipv4.ip_forward = 0`n"
        $staged = New-ScratchRoot -Files @{ '90-kvmhost-forwarding.conf' = $script:fullText }
        $report = @'
$ErrorActionPreference = 'Stop'
function Try-Set([string] $Root) {
    $path = "$Root/etc/sysctl.d/90-kvmhost-forwarding.conf"
    $before = [IO.File]::ReadAllText($path)
    try { $null = Set-IpForwarding -Root $Root -WarningAction SilentlyContinue; $id = $null; $message = $null }
    catch { $id = $_.FullyQualifiedErrorId; $message = $_.Exception.Message }
    [pscustomobject]@{ ErrorId = $id; Message = $message; Unchanged = ([IO.File]::ReadAllText($path) -ceq $before)
        Files = @(Get-ChildItem -Force -LiteralPath (Split-Path $path) | ForEach-Object Name) }
}
[pscustomobject]@{ ReadOnly = Try-Set $env:RO_ROOT; Full = Try-Set $env:FULL_ROOT } | ConvertTo-Json -Depth 4 -Compress
'@
        $scriptFile = Join-Path $staged 'report.ps1'
        Set-Content -LiteralPath $scriptFile -Value ("Import-Module '$(Get-KvmHostModulePath)'`n" + $report)
        $pwsh = (Get-PwshInvocation) -join ' '
        $ro = $script:readOnly; $fs = $script:full
        $shell = "set -e; mount --bind $ro/etc $ro/etc; mount -o remount,bind,ro $ro/etc; " +
            "mount -t tmpfs -o size=64k kvmhost-full $fs/etc/sysctl.d; cp $staged/90-kvmhost-forwarding.conf $fs/etc/sysctl.d/; " +
            "RO_ROOT=$ro FULL_ROOT=$fs $pwsh -NoProfile -NonInteractive -File $scriptFile"
        $output = & unshare --mount --propagation private sh -c $shell 2>&1
        Remove-ScratchRoot $staged
        $script:result = ($output | Where-Object { $_ -is [string] -and $_.StartsWith('{') } | Select-Object -Last 1) | ConvertFrom-Json
        if (-not $script:result) { throw "namespace run failed: $($output -join "`n")" }
    }
    AfterAll { Remove-ScratchRoot $script:readOnly; Remove-ScratchRoot $script:full }

    It 'fails on a read-only /etc with FileWriteFailed that says read-only and that the file was left as it was' {
        $script:result.ReadOnly.ErrorId | Should -Be 'FileWriteFailed,KvmHost.Commands.SetIpForwardingCommand'
        $script:result.ReadOnly.Message | Should -Match 'read-only'
        $script:result.ReadOnly.Message | Should -Match 'left as it was'
        $script:result.ReadOnly.Unchanged | Should -BeTrue
        $script:result.ReadOnly.Files | Should -Be @('90-kvmhost-forwarding.conf')
        [IO.File]::ReadAllText("$($script:readOnly)/etc/sysctl.d/90-kvmhost-forwarding.conf") | Should -Be "net.ipv4.ip_forward = 0`n"
    }

    It 'fails on a full file system with FileWriteFailed that says full, keeps the old file and leaves no temp or backup' {
        $script:result.Full.ErrorId | Should -Be 'FileWriteFailed,KvmHost.Commands.SetIpForwardingCommand'
        $script:result.Full.Message | Should -Match 'full'
        $script:result.Full.Message | Should -Match 'left as it was'
        $script:result.Full.Unchanged | Should -BeTrue
        $script:result.Full.Files | Should -Be @('90-kvmhost-forwarding.conf')
    }
}

Describe "The package manager dying mid-transaction, systemctl missing or failing$(if ($notRoot) { ' (skipped: needs root: rpm chroots into the root)' })" -Tag Hardening -Skip:($notRoot) {
    BeforeAll {
        $script:bin = New-ScratchRoot -Files @{
            # Prints the start of a real dnf transaction, then dies the way the OOM killer or a kill -9 ends it.
            'dnf'       = "#!/bin/sh`necho 'Dependencies resolved.'`necho 'Running transaction'`necho '  Installing       : libvirt-libs-10.0.0-6.el9.x86_64      1/2'`nkill -9 `$`$`n"
            'systemctl' = "#!/bin/sh`necho 'Failed to connect to bus: No such file or directory' >&2`nexit 1`n"
        }
        & chmod 755 "$($script:bin)/dnf" "$($script:bin)/systemctl"
        $script:root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } -Files @{
            'usr/lib/systemd/system/libvirtd.service' = "[Service]`nExecStart=/usr/sbin/libvirtd`n[Install]`nWantedBy=multi-user.target`n"
        } -Directories 'etc/systemd/system'
        $script:path = $env:PATH
    }
    AfterEach { $env:PATH = $script:path }
    AfterAll { Remove-ScratchRoot $script:bin; Remove-ScratchRoot $script:root }

    It 'says the package manager was killed mid-transaction, what the database holds now and how to inspect it' {
        $env:PATH = "$($script:bin):$($script:path)"
        $failure = { Install-KvmPackages -Root $script:root -Name libvirt -NoDefaultPackages -ErrorAction Stop } |
            Should -Throw -ErrorId 'PackageInstallFailed,KvmHost.Commands.InstallKvmPackagesCommand' -PassThru
        $failure.Exception.Message | Should -Match 'dnf was killed \(signal 9\) in the middle of the transaction'
        $failure.Exception.Message | Should -Match 'none of the missing packages is installed'
        $failure.ErrorDetails.RecommendedAction | Should -Match 'dnf history info last'
    }

    It 'fails with CommandNotFound when systemctl is missing, with SystemctlFailed when it fails; the image is unchanged' {
        $before = (Get-TreeHash "$($script:root)/etc") + (Get-TreeHash "$($script:root)/usr")
        $env:PATH = '/nonexistent'
        { Enable-Libvirtd -Root $script:root -ErrorAction Stop } | Should -Throw -ErrorId 'CommandNotFound,KvmHost.Commands.EnableLibvirtdCommand'
        $env:PATH = "$($script:bin):$($script:path)"
        $failure = { Enable-Libvirtd -Root $script:root -ErrorAction Stop } |
            Should -Throw -ErrorId 'SystemctlFailed,KvmHost.Commands.EnableLibvirtdCommand' -PassThru
        $failure.Exception.Message | Should -Match 'Failed to connect to bus'
        (Get-TreeHash "$($script:root)/etc") + (Get-TreeHash "$($script:root)/usr") | Should -Be $before
    }
}

Describe "Concurrency: parallel runs on one root queue on the host lock$(if ($notRoot) { ' (skipped: needs root)' })" -Tag Hardening -Skip:($notRoot) {
    BeforeEach {
        $script:root = New-ScratchRoot -Fixtures @{ 'etc/sysctl.conf' = 'sysctl/rhel7-etc-sysctl.conf' } -Directories 'etc/sysctl.d'
        $null = New-Item -ItemType SymbolicLink -Path "$($script:root)/etc/sysctl.d/99-sysctl.conf" -Target '../sysctl.conf'
    }
    AfterEach { Remove-ScratchRoot $script:root }

    It '8 Set-IpForwarding processes at once end with one valid file holding every change' {
        $original = [IO.File]::ReadAllText("$($script:root)/etc/sysctl.conf")
        # Each run adds different keys to the same file: a lost update would drop one of them.
        $variants = @('-AddressFamily IPv4', '-AddressFamily IPv6', '-AddressFamily IPv4 -DisableBridgeNetfilter', '-AddressFamily Both') * 2
        $processes = foreach ($variant in $variants) {
            Start-ChildPwsh "Set-IpForwarding -Root '$($script:root)' -Path /etc/sysctl.conf $variant -WarningAction SilentlyContinue -ErrorAction Stop | Out-Null; 'done'"
        }
        foreach ($process in $processes) {
            $out = $process.StandardOutput.ReadToEnd(); $err = $process.StandardError.ReadToEnd()
            $process.WaitForExit()
            $process.ExitCode | Should -Be 0 -Because $err
            $out.Trim() | Should -Be 'done'
        }
        $text = [IO.File]::ReadAllText("$($script:root)/etc/sysctl.conf")
        $text.StartsWith($original.TrimEnd("`n")) | Should -BeTrue -Because 'every line of the admin file is kept'
        foreach ($line in 'net.ipv4.ip_forward = 1', 'net.ipv6.conf.all.forwarding = 1', 'net.bridge.bridge-nf-call-iptables = 0',
            'net.bridge.bridge-nf-call-ip6tables = 0', 'net.bridge.bridge-nf-call-arptables = 0') {
            @($text -split "`n" | Where-Object { $_ -eq $line }) | Should -HaveCount 1 -Because "$line must be there exactly once"
        }
        $state = Get-IpForwarding -Root $script:root -AddressFamily Both -Path /etc/sysctl.conf
        $state.ConfiguredValue | Should -Be @(1, 1)
    }

    It '4 New-HostBridge processes on different bridges at once leave all 4 bridges and their ports, each keyfile 0600' {
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rocky-9.5.os-release' }
        try {
            $processes = foreach ($n in 1..4) {
                Start-ChildPwsh "New-HostBridge br$n -Interface eno$n -IPAddress 10.$n.0.2/24 -Root '$root' -ErrorAction Stop | Out-Null; 'done'"
            }
            foreach ($process in $processes) {
                $out = $process.StandardOutput.ReadToEnd(); $err = $process.StandardError.ReadToEnd()
                $process.WaitForExit()
                $process.ExitCode | Should -Be 0 -Because $err
                $out.Trim() | Should -Be 'done'
            }
            $bridges = @(Get-HostBridge -Root $root)
            ($bridges.Name | Sort-Object) | Should -Be @('br1', 'br2', 'br3', 'br4')
            foreach ($bridge in $bridges) { $bridge.Ports | Should -Be @("eno$($bridge.Name.Substring(2))") }
            $files = @(Get-ChildItem "$root/etc/NetworkManager/system-connections" -Filter '*.nmconnection')
            $files | Should -HaveCount 8
            foreach ($file in $files) { (& stat -c '%a' $file.FullName) | Should -Be '600' }
        } finally { Remove-ScratchRoot $root }
    }

    It 'waits while another run holds the lock, and fails with LockTimeout after 30 s leaving the root unchanged' {
        $lockPath = "$($script:root)/run/lock/kvmhost.lock"
        $null = New-Item -ItemType Directory -Path (Split-Path $lockPath) -Force
        # FileShare.None takes flock(LOCK_EX) on Linux: the same lock HostLock takes, held by "another run".
        $held = [IO.File]::Open($lockPath, 'OpenOrCreate', 'ReadWrite', 'None')
        try {
            $before = Get-TreeHash "$($script:root)/etc" # the held lock file cannot be read for hashing
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $failure = { Set-IpForwarding -Root $script:root -WarningAction SilentlyContinue -ErrorAction Stop } |
                Should -Throw -ErrorId 'LockTimeout,KvmHost.Commands.SetIpForwardingCommand' -PassThru
            $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 29
            $failure.Exception.Message | Should -Match 'held /run/lock/kvmhost\.lock .*for more than 30 s'
            $failure.ErrorDetails.RecommendedAction | Should -Match 'fuser'
            Get-TreeHash "$($script:root)/etc" | Should -Be $before
        } finally { $held.Dispose() }
        (Set-IpForwarding -Root $script:root -WarningAction SilentlyContinue).Changed | Should -BeTrue -Because 'the lock is free again'
    }
}

Describe "Privilege: not root means NotRoot before anything is written, and -WhatIf previews without root$(if ($noSetpriv) { ' (skipped: needs root and setpriv to become uid 65534)' })" -Tag Hardening -Skip:($noSetpriv) {
    BeforeAll {
        # pwsh runs from root's NuGet package folder, which another user cannot enter: a world-readable copy, started as uid 65534.
        $script:unprivileged = New-UnprivilegedPwsh
        $script:watched = @('/etc/sysctl.d', '/etc/sysctl.conf', '/run/lock/kvmhost.lock') | ForEach-Object {
            [pscustomobject]@{ Path = $_; Before = if (Test-Path $_) { (Get-Item $_).LastWriteTimeUtc } }
        }
        $script:ipForward = [int](Get-Content -Raw /proc/sys/net/ipv4/ip_forward).Trim()
        $probe = @'
$results = foreach ($call in @(
    { Set-IpForwarding }, { Set-IpForwarding -AddressFamily Both -DisableBridgeNetfilter }, { Set-IpForwarding -WhatIf },
    { Install-KvmPackages -Name kvmhost-never-installed -NoDefaultPackages }, { Install-KvmPackages -Name kvmhost-never-installed -NoDefaultPackages -WhatIf },
    { Enable-Libvirtd }, { Enable-Libvirtd -Mode Modular }, { Enable-Libvirtd -WhatIf })) {
    try {
        $objects = @(& $call -ErrorAction Stop -WarningAction SilentlyContinue | ForEach-Object {
            [pscustomobject]@{ WhatIf = $_.WhatIf; Changed = $_.Changed; RuntimeValue = $_.RuntimeValue; Status = "$($_.Status)"; PlannedChanges = @($_.PlannedChanges) }
        })
        [pscustomobject]@{ Call = "$call".Trim(); ErrorId = $null; Message = $null; Objects = $objects }
    }
    catch { [pscustomobject]@{ Call = "$call".Trim(); ErrorId = $_.FullyQualifiedErrorId; Message = $_.Exception.Message; Objects = @() } }
}
'---'; $results | ConvertTo-Json -Compress -Depth 4
'@
        $command = $script:unprivileged.Command
        $output = & $command[0] @($command | Select-Object -Skip 1) "id -u; Import-Module '$($script:unprivileged.Module)'; $probe" 2>&1
        $script:uid = "$($output | Select-Object -First 1)".Trim()
        $text = ($output | ForEach-Object { "$_" }) -join "`n"
        $script:results = $text.Substring($text.LastIndexOf('---') + 3) | ConvertFrom-Json
    }
    AfterAll { Remove-ScratchRoot $script:unprivileged.Path }

    It 'runs the probe as uid 65534' { $script:uid | Should -Be '65534' }

    It 'stops <_> with NotRoot' -ForEach @('Set-IpForwarding', 'Set-IpForwarding -AddressFamily Both -DisableBridgeNetfilter',
        'Install-KvmPackages -Name kvmhost-never-installed -NoDefaultPackages', 'Enable-Libvirtd', 'Enable-Libvirtd -Mode Modular') {
        $result = $script:results | Where-Object Call -eq $_
        $result.ErrorId | Should -BeLike 'NotRoot,*'
        $result.Message | Should -Match 'nothing was changed'
    }

    It 'Set-IpForwarding -WhatIf previews the running kernel as it is instead of stopping with NotRoot' {
        $result = $script:results | Where-Object Call -eq 'Set-IpForwarding -WhatIf'
        $result.ErrorId | Should -BeNullOrEmpty -Because $result.Message
        $result.Objects[0].WhatIf | Should -BeTrue
        $result.Objects[0].Changed | Should -BeFalse
        $result.Objects[0].RuntimeValue | Should -Be $script:ipForward
        if ($script:ipForward -ne 1) { $result.Objects[0].PlannedChanges | Should -Contain "/proc/sys/net/ipv4/ip_forward: $($script:ipForward) -> 1" }
    }

    It 'Install-KvmPackages -WhatIf previews the package as it is, with the command that would install it' {
        $result = $script:results | Where-Object Call -eq 'Install-KvmPackages -Name kvmhost-never-installed -NoDefaultPackages -WhatIf'
        $result.ErrorId | Should -BeNullOrEmpty -Because $result.Message
        $result.Objects[0].WhatIf | Should -BeTrue
        $result.Objects[0].Status | Should -Be 'Missing'
        $result.Objects[0].PlannedChanges | Should -Match 'install kvmhost-never-installed$'
    }

    It 'Enable-Libvirtd -WhatIf does not ask for root (where systemd runs it previews)' {
        $result = $script:results | Where-Object Call -eq 'Enable-Libvirtd -WhatIf'
        $result.ErrorId | Should -Not -BeLike 'NotRoot,*'
        if ($result.ErrorId) { $result.ErrorId | Should -BeIn 'SystemdNotRunning,KvmHost.Commands.EnableLibvirtdCommand', 'LibvirtNotInstalled,KvmHost.Commands.EnableLibvirtdCommand' }
        else { $result.Objects[0].WhatIf | Should -BeTrue }
    }

    It 'wrote nothing on the live host' {
        foreach ($entry in $script:watched) {
            $now = if (Test-Path $entry.Path) { (Get-Item $entry.Path).LastWriteTimeUtc }
            $now | Should -Be $entry.Before -Because "$($entry.Path) must not change"
        }
        [int](Get-Content -Raw /proc/sys/net/ipv4/ip_forward).Trim() | Should -Be $script:ipForward
    }
}

Describe "Modes and owners of written files$(if ($notRoot) { ' (skipped: needs root to chown)' })" -Tag Hardening -Skip:($notRoot) {
    It 'creates a drop-in 0644 and keeps an existing file''s 0640 and its owner' {
        $root = New-ScratchRoot -Files @{ 'etc/sysctl.conf' = "# admin file`nnet.ipv4.ip_forward = 0`n" } -Directories 'etc/sysctl.d'
        try {
            & chown 1234:5678 "$root/etc/sysctl.conf"; & chmod 0640 "$root/etc/sysctl.conf"
            $null = Set-IpForwarding -Root $root -Path /etc/sysctl.conf -WarningAction SilentlyContinue
            $null = Set-IpForwarding -Root $root -AddressFamily IPv6 -WarningAction SilentlyContinue
            (& stat -c '%a %u:%g' "$root/etc/sysctl.conf") | Should -Be '640 1234:5678'
            [IO.File]::ReadAllText("$root/etc/sysctl.conf") | Should -Match 'net.ipv4.ip_forward = 1'
            (& stat -c '%a %u:%g' "$root/etc/sysctl.d/90-kvmhost-forwarding.conf") | Should -Be '644 0:0'
        } finally { Remove-ScratchRoot $root }
    }
}

Describe 'Secrets: file contents never reach Verbose output or errors' -Tag Hardening {
    BeforeAll {
        $script:root = New-ScratchRoot -Fixtures @{
            'etc/os-release' = 'os-release/rhel-9.6.os-release'
            'usr/lib/sysctl.d/50-default.conf' = 'sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf'
        } -Files @{
            'etc/NetworkManager/system-connections/corp-wifi.nmconnection' =
                "[connection]`nid=corp-wifi`ntype=wifi`n[wifi-security]`nkey-mgmt=wpa-psk`npsk=$($script:secret)`n[802-1x]`npassword=$($script:secret)`n"
            'etc/sysctl.conf' = "# vpn key: $($script:secret)`nnet.ipv4.ip_forward = 0`n"
            'etc/sysctl.d/60-notes.conf' = "# $($script:secret)`nthis line = is not sysctl syntax $($script:secret) [broken`n"
        } -Directories 'etc/sysctl.d'
        [IO.File]::WriteAllBytes("$($script:root)/etc/sysctl.d/80-binary.conf", [Text.Encoding]::UTF8.GetBytes("psk=$($script:secret)`0`n"))
    }
    AfterAll { Remove-ScratchRoot $script:root }

    It 'does not echo a secret held in <_>' -ForEach @(
        'Set-IpForwarding -Path /etc/sysctl.conf -ResolveConflict', 'Set-IpForwarding -AddressFamily Both', 'Get-IpForwarding -AddressFamily Both',
        'Set-IpForwarding -Path /etc/sysctl.d/80-binary.conf', 'Set-IpForwarding -Path /etc/NetworkManager/system-connections/corp-wifi.nmconnection',
        'Test-KvmHost', 'New-HostBridge br5 -Interface eno5 -IPAddress 10.5.0.2/24 -WhatIf',
        'New-HostBridge corp-wifi -Interface eno5 -IPAddress 10.5.0.2/24', 'New-HostBridge br6 -Interface eno6 -IPAddress 10.6.0.2/24',
        'Get-HostBridge', 'Remove-HostBridge br6 -Confirm:$false') {
        $command = [scriptblock]::Create("$_ -Root '$($script:root)' -Verbose")
        $all = & { try { & $command *>&1 } catch { $_; $_.Exception.ToString(); $_.ErrorDetails } } |
            ForEach-Object { $_; if ($_ -is [Management.Automation.ErrorRecord]) { $_.Exception.ToString(); "$($_.TargetObject)" } } | Out-String -Width 400
        $all | Should -Not -BeNullOrEmpty
        $all | Should -Not -Match ([regex]::Escape($script:secret))
    }
}
