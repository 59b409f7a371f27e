<#
    Proves the network test harness itself (netns.sh, nm-netns.sh, NetLab.psm1) on real namespaces,
    so that tests of the forwarding and bridge cmdlets can trust it. Needs root; everything happens in
    namespaces made here and is removed at the end. The machine's /proc/sys/net/ipv4/ip_forward is
    read before and after and must not change.
#>
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'Harness.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'NetLab.psm1') -Force
}

Describe 'Test-NetLabSupported' -Tag 'NetLab' {
    # Runs everywhere: the reasons other suites print when they skip.
    It 'says why when not root' {
        Mock -ModuleName NetLab id { '1000' }
        Test-NetLabSupported | Should -BeLike 'not root (uid 1000)*'
    }

    It 'names a missing tool' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'network labs exist only on Linux'; return }
        Mock -ModuleName NetLab id { '0' }
        Mock -ModuleName NetLab Get-Command { $null } -ParameterFilter { $Name -contains 'ip' }
        Test-NetLabSupported | Should -BeLike "no 'ip' on PATH*"
    }

    It 'names a missing NetworkManager only when asked for it' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'network labs exist only on Linux'; return }
        Mock -ModuleName NetLab id { '0' }
        Mock -ModuleName NetLab Get-Command { $null } -ParameterFilter { $Name -contains 'NetworkManager' }
        Mock -ModuleName NetLab Invoke-HarnessProcess { [pscustomobject]@{ ExitCode = 0; StdErr = '' } }
        Test-NetLabSupported | Should -BeNullOrEmpty
        Test-NetLabSupported -NetworkManager | Should -BeLike "no 'NetworkManager' on PATH*"
    }
}

Describe 'NetLab harness' -Tag 'NetLab', 'Root', 'Network' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'NetLab.psm1') -Force
        $script:labReason = Test-NetLabSupported
        $script:nmReason = if ($script:labReason) { $script:labReason } else { Test-NetLabSupported -NetworkManager }
        # .NET reads /proc/sys reliably (Get-Content is fine for reading; Set-Content silently writes nothing).
        function Read-MachineForward { [IO.File]::ReadAllText('/proc/sys/net/ipv4/ip_forward').Trim() }
        $script:machineForwardBefore = if ($IsLinux) { Read-MachineForward } else { $null }
        $script:lab = $null
        $script:nm = $null
        $script:scratch = $null
        if (-not $script:labReason) {
            $script:lab = New-NetLab
            $script:scratch = Join-Path ([IO.Path]::GetTempPath()) "$($script:lab.LAB)-scratch"
            $null = New-Item -ItemType Directory -Path $script:scratch -Force
        }

        function Get-LabJson([string[]] $Command, [switch] $NetworkManager) {
            $result = if ($NetworkManager) { Invoke-InNetLab -Name $script:lab.LAB -Command $Command -NetworkManager }
                      else { Invoke-InNetLab -Name $script:lab.LAB -Command $Command }
            $result.ExitCode | Should -Be 0 -Because $result.StdErr
            if ($result.StdOut.Trim()) { $result.StdOut | ConvertFrom-Json } else { @() }
        }
        function Get-LabAddress([string] $Interface, [string] $Family = 'inet') {
            $info = Get-LabJson @('ip', '-j', 'addr', 'show', 'dev', $Interface)
            @($info.addr_info | Where-Object { $_.family -eq $Family -and $_.scope -eq 'global' } |
                ForEach-Object { "$($_.local)/$($_.prefixlen)" })
        }
        function Get-LabLink([string] $Interface) {
            $result = Invoke-InNetLab -Name $script:lab.LAB -Command @('ip', '-j', 'link', 'show', 'dev', $Interface)
            if ($result.ExitCode -ne 0) { return $null }
            ($result.StdOut | ConvertFrom-Json)[0]
        }
        # Bounded wait for NetworkManager to finish an asynchronous change.
        function Wait-LabCondition([scriptblock] $Condition, [int] $TimeoutSec = 15) {
            $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
            do {
                if (& $Condition) { return $true }
                Start-Sleep -Milliseconds 200
            } while ([DateTime]::UtcNow -lt $deadline)
            $false
        }
        function Test-NicRestored {
            $link = Get-LabLink 'kvmt0'
            $br = Get-LabLink 'br0'
            $null -ne $link -and -not ($link.PSObject.Properties.Name -contains 'master') -and
                $null -eq $br -and (Get-LabAddress 'kvmt0') -contains '192.0.2.10/24'
        }
        function New-LabBridge {
            $steps = @(
                @('connection', 'add', 'type', 'bridge', 'ifname', 'br0', 'con-name', 'br0',
                    'ipv4.method', 'manual', 'ipv4.addresses', '192.0.2.10/24', 'ipv4.gateway', '192.0.2.1',
                    'ipv6.method', 'manual', 'ipv6.addresses', '2001:db8::10/64',
                    # STP's 15 s forward delay would keep the port blocking after activation.
                    'bridge.stp', 'no'),
                # NM 1.42 rejects "port-type bridge controller br0" (invalid <setting>.<property>);
                # slave-type/master is what it takes.
                @('connection', 'add', 'type', 'ethernet', 'ifname', 'kvmt0', 'con-name', 'br0-port',
                    'slave-type', 'bridge', 'master', 'br0'),
                # The veth's current (external) configuration keeps it busy; autoconnect does not take
                # it over, the port has to be brought up explicitly.
                @('connection', 'up', 'br0-port')
            )
            foreach ($step in $steps) {
                $result = Invoke-NetLabNmcli -Name $script:lab.LAB -Arguments $step
                $result.ExitCode | Should -Be 0 -Because "nmcli $($step -join ' '): $($result.StdErr)"
            }
            Wait-LabCondition { (Get-LabLink 'kvmt0').master -eq 'br0' -and (Get-LabAddress 'br0') -contains '192.0.2.10/24' } |
                Should -BeTrue -Because 'kvmt0 should be a port of br0 and br0 should carry 192.0.2.10/24'
        }
    }

    AfterAll {
        if ($script:lab) { Remove-NetLab -Name $script:lab.LAB }
        if ($script:scratch -and (Test-Path $script:scratch)) { Remove-Item $script:scratch -Recurse -Force }
        if ($IsLinux -and $null -ne $script:machineForwardBefore) {
            Read-MachineForward | Should -Be $script:machineForwardBefore -Because "the machine's own ip_forward is not the lab's"
        }
    }

    Context 'iproute2 lab' {
        It 'reports the documented layout' {
            if ($script:labReason) { Set-ItResult -Skipped -Because $script:labReason; return }
            $script:lab.HOST_NS | Should -Be "$($script:lab.LAB)-host"
            $script:lab.GW_NS | Should -Be "$($script:lab.LAB)-gw"
            $script:lab.NIC | Should -Be 'kvmt0'
            Get-LabAddress 'kvmt0' | Should -Be '192.0.2.10/24'
            Get-LabAddress 'kvmt0' -Family inet6 | Should -Be '2001:db8::10/64'
            $routes = Get-LabJson @('ip', '-j', 'route', 'show', 'default')
            $routes[0].gateway | Should -Be '192.0.2.1'
            (Get-LabJson @('ip', '-j', 'link', 'show', 'dev', 'lo'))[0].flags | Should -Contain 'UP'
        }

        It 'reaches the gateway from the host namespace over IPv4 and IPv6' {
            if ($script:labReason) { Set-ItResult -Skipped -Because $script:labReason; return }
            Test-NetLabPing -Name $script:lab.LAB -Address 192.0.2.1 | Should -BeTrue
            Test-NetLabPing -Name $script:lab.LAB -Address 2001:db8::1 | Should -BeTrue
            Test-NetLabPing -Name $script:lab.LAB -Address 192.0.2.10 -FromGateway | Should -BeTrue
        }

        It 'gives the lab its own net.ipv4.ip_forward and leaves the machine''s alone' {
            if ($script:labReason) { Set-ItResult -Skipped -Because $script:labReason; return }
            $before = Read-MachineForward
            # A new namespace inherits the machine's current value (net.core.devconf_inherit_init_net=0),
            # so start from a known 0 rather than assuming it.
            (Invoke-InNetLab -Name $script:lab.LAB -Command 'sysctl', '-w', 'net.ipv4.ip_forward=0').ExitCode | Should -Be 0
            $write = Invoke-InNetLab -Name $script:lab.LAB -Command 'sysctl', '-w', 'net.ipv4.ip_forward=1'
            $write.ExitCode | Should -Be 0 -Because $write.StdErr
            (Invoke-InNetLab -Name $script:lab.LAB -Command 'cat', '/proc/sys/net/ipv4/ip_forward').Output | Should -Be '1'
            # Also through a plain file write, as a cmdlet using File.WriteAllText would do.
            (Invoke-InNetLab -Name $script:lab.LAB -Command 'sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/ipv4/ip_forward').Output |
                Should -Be '0'
            (Invoke-InNetLab -Name $script:lab.LAB -Command 'sysctl', '-w', 'net.ipv4.ip_forward=1').ExitCode | Should -Be 0
            $gateway = (Invoke-InNetLab -Name $script:lab.LAB -Gateway -Command 'cat', '/proc/sys/net/ipv4/ip_forward').Output
            $gateway | Should -BeIn @('0', '1')
            Read-MachineForward | Should -Be $before
        }

        It 'shows the scratch directory at /etc/sysctl.d with -PrivateSysctlDir' {
            if ($script:labReason) { Set-ItResult -Skipped -Because $script:labReason; return }
            $sysctlDir = Join-Path $script:scratch 'sysctl.d'
            $null = New-Item -ItemType Directory -Path $sysctlDir -Force
            [IO.File]::WriteAllText((Join-Path $sysctlDir 'marker.conf'), "# marker`n")
            $fileName = "90-$($script:lab.LAB).conf"
            $script = "ls /etc/sysctl.d; echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/$fileName; sysctl -p /etc/sysctl.d/$fileName"
            $result = Invoke-InNetLab -Name $script:lab.LAB -PrivateSysctlDir $sysctlDir -Command 'sh', '-c', $script
            $result.ExitCode | Should -Be 0 -Because $result.StdErr
            $result.Output | Should -Contain 'marker.conf'
            $result.Output | Should -Contain 'net.ipv4.ip_forward = 1'
            Join-Path $sysctlDir $fileName | Should -Exist
            Join-Path '/etc/sysctl.d' $fileName | Should -Not -Exist
            # The bind lives only as long as the command: the next one sees the machine's directory.
            (Invoke-InNetLab -Name $script:lab.LAB -Command 'ls', '/etc/sysctl.d').Output | Should -Not -Contain 'marker.conf'
        }

        It 'shows a scratch file at another path with -Bind' {
            if ($script:labReason) { Set-ItResult -Skipped -Because $script:labReason; return }
            $file = Join-Path $script:scratch 'sysctl.conf'
            [IO.File]::WriteAllText($file, "# scratch sysctl.conf $($script:lab.LAB)`n")
            # sysctl.conf is what a forwarding cmdlet might edit; os-release exists everywhere.
            $target = if (Test-Path '/etc/sysctl.conf' -PathType Leaf) { '/etc/sysctl.conf' } else { '/etc/os-release' }
            $result = Invoke-InNetLab -Name $script:lab.LAB -Bind @{ $file = $target } -Command 'cat', $target
            $result.ExitCode | Should -Be 0 -Because $result.StdErr
            $result.Output | Should -Be "# scratch sysctl.conf $($script:lab.LAB)"
            $result = Invoke-InNetLab -Name $script:lab.LAB -Bind @{ $file = '/nonexistent-kvmhost-path' } -Command 'true'
            $result.ExitCode | Should -Not -Be 0
            $result.StdErr | Should -Match 'does not exist'
        }
    }

    Context 'NetworkManager in the lab' {
        BeforeAll {
            if (-not $script:nmReason) { $script:nm = Start-NetLabNetworkManager -Name $script:lab.LAB }
        }

        It 'starts, answers nmcli and manages the veth' {
            if ($script:nmReason) { Set-ItResult -Skipped -Because $script:nmReason; return }
            Write-Host "NetworkManager $($script:nm.NM_VERSION) ready in $($script:nm.START_MS) ms; kvmt0: $($script:nm.NIC_STATE)"
            $general = Invoke-NetLabNmcli -Name $script:lab.LAB -Arguments '-t', '-f', 'RUNNING', 'general'
            $general.Output | Should -Be 'running'
            $devices = (Invoke-NetLabNmcli -Name $script:lab.LAB -Arguments '-t', '-f', 'DEVICE,STATE', 'device').Output
            $devices | Where-Object { $_ -like 'kvmt0:*' } | Should -Not -BeNullOrEmpty
            $devices | Where-Object { $_ -like 'kvmt0:*' } | Should -Not -BeLike '*unmanaged*'
            # The same NM is reachable from outside the lab through the socket path it printed.
            $script:nm.DBUS_SOCKET | Should -Exist
        }

        It 'shows the scratch system-connections directory to commands run next to NM' {
            if ($script:nmReason) { Set-ItResult -Skipped -Because $script:nmReason; return }
            $result = Invoke-NetLabNmcli -Name $script:lab.LAB -Arguments 'connection', 'add', 'type', 'dummy',
                'ifname', 'kvmdummy0', 'con-name', 'probe', 'autoconnect', 'no', 'ipv4.method', 'disabled', 'ipv6.method', 'disabled'
            $result.ExitCode | Should -Be 0 -Because $result.StdErr
            $inside = Invoke-InNetLab -Name $script:lab.LAB -NetworkManager -Command 'sh', '-c',
                'stat -c "%a %n" /etc/NetworkManager/system-connections/*; echo "bus=$DBUS_SYSTEM_BUS_ADDRESS"'
            $inside.ExitCode | Should -Be 0 -Because $inside.StdErr
            $inside.Output | Should -Contain '600 /etc/NetworkManager/system-connections/probe.nmconnection'
            $inside.Output | Should -Contain 'bus=unix:path=/run/dbus/system_bus_socket'
            Join-Path $script:nm.SYSTEM_CONNECTIONS_DIR 'probe.nmconnection' | Should -Exist
            '/etc/NetworkManager/system-connections/probe.nmconnection' | Should -Not -Exist
            (Invoke-NetLabNmcli -Name $script:lab.LAB -Arguments 'connection', 'delete', 'probe').ExitCode | Should -Be 0
        }

        It 'moves the veth into an nmcli bridge that carries the address; the gateway still answers' {
            if ($script:nmReason) { Set-ItResult -Skipped -Because $script:nmReason; return }
            # Taken first so the next test can roll this change back.
            $script:checkpoint = New-NetLabNmCheckpoint -Name $script:lab.LAB -RollbackTimeoutSec 300
            $script:checkpoint | Should -Match '^/org/freedesktop/NetworkManager/Checkpoint/\d+$'
            New-LabBridge
            Get-LabAddress 'kvmt0' | Should -BeNullOrEmpty -Because 'NM moves the address from the port to the bridge'
            Get-LabAddress 'br0' -Family inet6 | Should -Contain '2001:db8::10/64'
            (Get-LabJson @('ip', '-j', 'route', 'show', 'default'))[0].dev | Should -Be 'br0'
            Test-NetLabPing -Name $script:lab.LAB -Address 192.0.2.1 | Should -BeTrue
        }

        It 'rolls the bridge back with CheckpointRollback: veth out of the bridge, address back' {
            if ($script:nmReason) { Set-ItResult -Skipped -Because $script:nmReason; return }
            $script:checkpoint | Should -Not -BeNullOrEmpty -Because 'the bridge test creates the checkpoint'
            $results = @(Undo-NetLabNmCheckpoint -Name $script:lab.LAB -Checkpoint $script:checkpoint)
            $results | Should -Not -BeNullOrEmpty
            $results | ForEach-Object { $_.Result | Should -Be 0 -Because "rollback of $($_.Device)" }
            Wait-LabCondition { Test-NicRestored } | Should -BeTrue -Because 'kvmt0 should leave br0 and get 192.0.2.10/24 back'
            (Invoke-NetLabNmcli -Name $script:lab.LAB -Arguments '-t', '-f', 'NAME', 'connection').Output |
                Should -Not -Contain 'br0' -Because 'flag DELETE_NEW_CONNECTIONS removes profiles made after the checkpoint'
            Get-NetLabNmCheckpoint -Name $script:lab.LAB | Should -BeNullOrEmpty -Because 'a rollback consumes the checkpoint'
            Test-NetLabPing -Name $script:lab.LAB -Address 192.0.2.1 | Should -BeTrue
        }

        It 'rolls back by itself when the checkpoint''s timeout expires' {
            if ($script:nmReason) { Set-ItResult -Skipped -Because $script:nmReason; return }
            # Long enough to build the bridge on a slow machine; shortened once the bridge is up.
            $checkpoint = New-NetLabNmCheckpoint -Name $script:lab.LAB -Interface kvmt0 -RollbackTimeoutSec 300
            New-LabBridge
            Set-NetLabNmCheckpointTimeout -Name $script:lab.LAB -Checkpoint $checkpoint -Seconds 2
            Wait-LabCondition { Test-NicRestored } -TimeoutSec 20 | Should -BeTrue -Because 'NM rolls back 2 s after the adjustment'
            Get-NetLabNmCheckpoint -Name $script:lab.LAB | Should -Not -Contain $checkpoint
            Test-NetLabPing -Name $script:lab.LAB -Address 192.0.2.1 | Should -BeTrue
        }
    }

    Context 'teardown' {
        It 'Remove-NetLab leaves no namespaces, processes or state behind' {
            if ($script:labReason) { Set-ItResult -Skipped -Because $script:labReason; return }
            $name = $script:lab.LAB
            # Namespaces are identified by inode: after removal no process may still be in them.
            $netInodes = foreach ($ns in "$name-host", "$name-gw") {
                (Invoke-HarnessProcess -FilePath 'stat' -ArgumentList '-L', '-c', '%i', "/run/netns/$ns" -AllowFailure).StdOut.Trim()
            }
            $pids = if ($script:nm) { @($script:nm.NM_PID, $script:nm.DBUS_PID, $script:nm.INIT_PID, $script:nm.HOLDER_PID) } else { @() }
            function Get-ProcessInLabNamespace {
                # FileInfo directly: the FileSystem provider is slow over a few hundred /proc entries.
                foreach ($directory in [IO.Directory]::EnumerateDirectories('/proc')) {
                    if ((Split-Path $directory -Leaf) -notmatch '^\d+$') { continue }
                    $path = "$directory/ns/net"
                    $target = try { [IO.FileInfo]::new($path).LinkTarget } catch { $null }
                    if ($target -and $netInodes -contains ($target -replace '^net:\[(\d+)\]$', '$1')) { $path }
                }
            }
            if ($script:nm) {
                # Control: the scan does find the lab's NetworkManager while it runs.
                Get-ProcessInLabNamespace | Should -Contain "/proc/$($script:nm.NM_PID)/ns/net"
            }

            Remove-NetLab -Name $name
            $script:lab = $null

            $namespaces = @((Invoke-HarnessProcess -FilePath 'ip' -ArgumentList 'netns', 'list' -AllowFailure).Output -replace ' .*')
            $namespaces | Should -Not -Contain "$name-host"
            $namespaces | Should -Not -Contain "$name-gw"
            foreach ($processId in $pids) {
                # A zombie waiting for the machine's init to reap it is already dead.
                $stat = Get-Content "/proc/$processId/stat" -ErrorAction Ignore
                if ($stat) { ($stat -replace '^.*\) ').Substring(0, 1) | Should -Be 'Z' -Because "pid $processId should be gone" }
            }
            Get-ProcessInLabNamespace | Should -BeNullOrEmpty
            (Invoke-HarnessProcess -FilePath 'bash' -ArgumentList (Join-Path $PSScriptRoot 'netns.sh'), 'state-dir', $name -AllowFailure).StdOut.Trim() |
                Should -Not -Exist
        }
    }
}
