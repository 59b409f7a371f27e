BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1') -Force
    $script:labSkip = Test-NetLabSupported
    $script:nmSkip = Test-NetLabSupported -NetworkManager
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1') -Force
    # Discovery's variables do not reach the run: the lab checks are made again for BeforeAll and the Its.
    $script:labSkip = Test-NetLabSupported
    $script:nmSkip = Test-NetLabSupported -NetworkManager
    Import-Module (Get-KvmHostModulePath) -Force
    function Get-LabLinks([string] $Lab) {
        (Invoke-InNetLab -Name $Lab -Command @('ip', '-j', '-d', 'address', 'show')).StdOut | ConvertFrom-Json
    }
}

Describe 'New-HostBridge' {
    Context 'writing network-scripts files under -Root' {
        It 'moves the NIC''s ifcfg addresses onto ifcfg-br0 and leaves the port only BRIDGE=br0' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/centos-7.os-release' } -Files @{
                'run/lock/kvmhost.lock' = ''
                'etc/sysconfig/network-scripts/ifcfg-eth0' = "DEVICE=eth0`nHWADDR=52:54:00:AA:BB:CC`nBOOTPROTO=static`nIPADDR=192.168.0.18`nPREFIX=24`nGATEWAY=192.168.0.1`nDNS1=192.168.0.1`nONBOOT=yes`n"
            }
            try {
                $result = New-HostBridge br0 -Interface eth0 -Root $root
                $result.Backend | Should -Be 'NetworkScripts'
                $result.Changed | Should -BeTrue
                $result.RuntimeApplied | Should -BeFalse
                $result.Active | Should -BeFalse
                $result.Addresses | Should -Be @('192.168.0.18/24')
                $result.MacAddress | Should -Be '52:54:00:AA:BB:CC'
                $result.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Bridge.HostBridgeResult'
                $result | Should -BeOfType 'KvmHost.Core.Bridge.HostBridge'
                $bridge = Get-Content -Raw (Join-Path $root 'etc/sysconfig/network-scripts/ifcfg-br0')
                $bridge | Should -Match '(?m)^TYPE=Bridge$'
                $bridge | Should -Match '(?m)^IPADDR=192\.168\.0\.18$'
                $bridge | Should -Match '(?m)^GATEWAY=192\.168\.0\.1$'
                $port = Get-Content -Raw (Join-Path $root 'etc/sysconfig/network-scripts/ifcfg-eth0')
                $port | Should -Match '(?m)^BRIDGE=br0$'
                $port | Should -Not -Match 'IPADDR|GATEWAY|DNS1|BOOTPROTO'
                # The replaced file is kept, hidden so network-scripts never reads it.
                @(Get-ChildItem -Force (Join-Path $root 'etc/sysconfig/network-scripts') -Filter '.ifcfg-eth0.kvmhost-*.bak').Count | Should -Be 1
            } finally { Remove-ScratchRoot $root }
        }

        It 'writes a port file like the initscripts bridge-port example when the NIC had none' {
            $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/rhel-7.5.os-release' }
            try {
                $null = New-HostBridge br0 -Interface eth1 -IPAddress 192.168.1.1/24 -Root $root -Stp $true -ForwardDelay 0
                $example = Get-Content (Get-FixturePath 'ifcfg/initscripts-example-ifcfg-br0') | Where-Object { $_ -match '^[A-Z]' }
                $written = Get-Content (Join-Path $root 'etc/sysconfig/network-scripts/ifcfg-br0')
                foreach ($line in $example | Where-Object { $_ -notmatch '^NETMASK=' }) {
                    if ($line -eq 'BOOTPROTO=none' -or $line -match '^(DEVICE|TYPE|IPADDR|ONBOOT|DELAY)=') { $written | Should -Contain $line }
                }
                $written | Should -Contain 'PREFIX=24'
                $written | Should -Contain 'STP=yes'
                Get-Content (Join-Path $root 'etc/sysconfig/network-scripts/ifcfg-eth1') | Should -Be @('DEVICE=eth1', 'TYPE=Ethernet', 'ONBOOT=yes', 'BRIDGE=br0', 'NM_CONTROLLED=no')
            } finally { Remove-ScratchRoot $root }
        }

        It 'changes nothing the second time and says Changed = False' {
            $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/centos-7.os-release' }
            try {
                $null = New-HostBridge br0 -Interface eth0 -IPAddress 10.0.0.5/24 -Gateway 10.0.0.1 -Root $root
                $before = Get-TreeHash $root
                $again = New-HostBridge br0 -Interface eth0 -IPAddress 10.0.0.5/24 -Gateway 10.0.0.1 -Root $root
                $again.Changed | Should -BeFalse
                @($again.FileChanges).Count | Should -Be 0
                Get-TreeHash $root | Should -Be $before
                # Without addresses the existing bridge is the source: still nothing to do.
                (New-HostBridge br0 -Interface eth0 -Root $root).Changed | Should -BeFalse
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }

        It 'refuses a different existing bridge of the same name instead of overwriting it' {
            $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/centos-7.os-release'; 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
            try {
                $before = Get-TreeHash $root
                { New-HostBridge br0 -Interface eth0 -IPAddress 10.0.0.5/24 -Root $root } |
                    Should -Throw -ErrorId 'BridgeConflict,KvmHost.Commands.NewHostBridgeCommand'
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'writing NetworkManager keyfiles under -Root' {
        It 'writes 0600 keyfiles with the legacy names for RHEL 9 and disables the NIC''s old profile' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.4.os-release' } -Files @{
                'run/lock/kvmhost.lock' = ''
                'etc/NetworkManager/system-connections/enp1s0.nmconnection' = "[connection]`nid=enp1s0`nuuid=9342d47a-1bab-5709-9869-c840b2eac501`ntype=ethernet`ninterface-name=enp1s0`n`n[ethernet]`nmac-address=52:54:00:12:34:56`n`n[ipv4]`naddress1=192.168.122.10/24`ndns=192.168.122.1;`ngateway=192.168.122.1`nmethod=manual`n`n[ipv6]`nmethod=auto`n"
            }
            try {
                $result = New-HostBridge br0 -Interface enp1s0 -Root $root
                $result.Backend | Should -Be 'NetworkManager'
                $dir = Join-Path $root 'etc/NetworkManager/system-connections'
                $bridge = Get-Content -Raw (Join-Path $dir 'br0.nmconnection')
                $bridge | Should -Match "(?m)^autoconnect-slaves=1$"
                $bridge | Should -Match "(?m)^address1=192\.168\.122\.10/24$"
                $bridge | Should -Match "(?m)^mac-address=52:54:00:12:34:56$"
                $port = Get-Content -Raw (Join-Path $dir 'br0-port-enp1s0.nmconnection')
                $port | Should -Match "(?m)^master=br0`n" 
                $port | Should -Match "(?m)^slave-type=bridge$"
                [IO.File]::GetUnixFileMode((Join-Path $dir 'br0.nmconnection')) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite')
                Get-Content -Raw (Join-Path $dir 'enp1s0.nmconnection') | Should -Match "type=ethernet`nautoconnect=false`n"
                @(Get-ChildItem -Force $dir -Filter '.enp1s0.nmconnection.kvmhost-*.bak').Count | Should -Be 1
                $result.ConfigurationFiles | Should -Be @('/etc/NetworkManager/system-connections/br0.nmconnection', '/etc/NetworkManager/system-connections/br0-port-enp1s0.nmconnection')
            } finally { Remove-ScratchRoot $root }
        }

        It 'uses controller/port-type/autoconnect-ports for RHEL 10' {
            $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/rhel-10.0.os-release' }
            try {
                $null = New-HostBridge br0 -Interface eno1 -Dhcp -Root $root
                $dir = Join-Path $root 'etc/NetworkManager/system-connections'
                Get-Content -Raw (Join-Path $dir 'br0-port-eno1.nmconnection') | Should -Match "controller=br0`ninterface-name=eno1`nport-type=bridge`n"
                Get-Content -Raw (Join-Path $dir 'br0.nmconnection') | Should -Match "autoconnect-ports=1[\s\S]*\[ipv4\]`nmethod=auto"
            } finally { Remove-ScratchRoot $root }
        }

        It '-WhatIf lists every file, writes none, takes no lock and reports the bridge as it is now' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rocky-9.5.os-release' }
            try {
                $before = Get-TreeHash $root
                $result = New-HostBridge br0 -Interface eno1 -IPAddress 10.1.1.2/24 -Root $root -WhatIf
                $result.WhatIf | Should -BeTrue
                $result.Changed | Should -BeFalse
                $result.PlannedChanges -notmatch '^Carry: ' | Should -Be @(
                    'Create (bridge): /etc/NetworkManager/system-connections/br0.nmconnection'
                    'Create (port): /etc/NetworkManager/system-connections/br0-port-eno1.nmconnection')
                $result.PlannedChanges | Should -Contain 'Carry: ipv4.address1=10.1.1.2/24 to the bridge (from the parameters)'
                # The state is the system now: there is no bridge yet, so no address and no file (never the plan's projection).
                $result.Addresses | Should -BeNullOrEmpty
                $result.ConfigurationFiles | Should -BeNullOrEmpty
                $result.Active | Should -BeFalse
                Get-TreeHash $root | Should -Be $before -Because 'a preview writes nothing, not even the lock file'
                Test-Path (Join-Path $root 'run/lock') | Should -BeFalse
            } finally { Remove-ScratchRoot $root }
        }

        It 'takes the interface from the pipeline by property name' {
            $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/rocky-9.5.os-release' }
            try {
                $result = [pscustomobject]@{ Interface = 'eno2' } | New-HostBridge br7 -IPAddress 10.7.0.2/24 -Root $root
                $result.Ports | Should -Be @('eno2')
                $result.Name | Should -Be 'br7'
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'validation before anything is written' {
        BeforeAll { $script:root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/rocky-9.5.os-release' } }
        AfterAll { Remove-ScratchRoot $script:root }

        It 'refuses <Case> with <Id>' -ForEach @(
            @{ Case = 'a 16-byte name'; Id = 'InvalidInterfaceName'; Arguments = @{ Name = 'br0123456789abcd'; Interface = 'eth0'; IPAddress = '10.0.0.2/24' } }
            @{ Case = 'a newline in the NIC name'; Id = 'InvalidInterfaceName'; Arguments = @{ Name = 'br0'; Interface = "eth0`nIPADDR=6.6.6.6"; IPAddress = '10.0.0.2/24' } }
            @{ Case = 'a colon'; Id = 'InvalidInterfaceName'; Arguments = @{ Name = 'br:0'; Interface = 'eth0'; IPAddress = '10.0.0.2/24' } }
            @{ Case = 'an address without prefix'; Id = 'InvalidIPAddress'; Arguments = @{ Name = 'br0'; Interface = 'eth0'; IPAddress = '10.0.0.2' } }
            @{ Case = 'a gateway outside the subnet'; Id = 'GatewayOutsideSubnet'; Arguments = @{ Name = 'br0'; Interface = 'eth0'; IPAddress = '10.0.0.2/24'; Gateway = '10.0.1.1' } }
            @{ Case = 'a DNS value with a newline'; Id = 'InvalidIPAddress'; Arguments = @{ Name = 'br0'; Interface = 'eth0'; IPAddress = '10.0.0.2/24'; DnsServer = "1.1.1.1`nDNS2=6.6.6.6" } }
            @{ Case = 'a NetworkManager forward delay of 0'; Id = 'InvalidBridgeOption'; Arguments = @{ Name = 'br0'; Interface = 'eth0'; IPAddress = '10.0.0.2/24'; ForwardDelay = 0 } }
        ) {
            $before = Get-TreeHash $script:root
            { New-HostBridge @Arguments -Root $script:root } | Should -Throw -ErrorId "$Id,KvmHost.Commands.NewHostBridgeCommand"
            Get-TreeHash $script:root | Should -Be $before
        }

        It 'refuses a NIC without any configuration to move when none is given' {
            { New-HostBridge br0 -Interface eth9 -Root $script:root } | Should -Throw -ErrorId 'InterfaceNotUsable,KvmHost.Commands.NewHostBridgeCommand'
        }

        It 'refuses a keyfile without sections as malformed (NetworkManager ignores it), naming the file' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } -Files @{
                'etc/NetworkManager/system-connections/enp7s0.nmconnection' = "interface-name=enp7s0`naddress1=10.0.0.2/24`n" }
            try {
                $before = Get-TreeHash $root
                $failure = { New-HostBridge br0 -Interface enp7s0 -Root $root } | Should -Throw -ErrorId 'KeyfileMalformed,KvmHost.Commands.NewHostBridgeCommand' -PassThru
                $failure.CategoryInfo.Category | Should -Be 'InvalidData'
                $failure.TargetObject | Should -Be '/etc/NetworkManager/system-connections/enp7s0.nmconnection'
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }

        It 'a call the plan refuses leaves no lock file behind (validation before the lock)' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/centos-7.os-release'; 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
            try {
                $before = Get-TreeHash $root
                { New-HostBridge br0 -Interface eth0 -IPAddress 10.0.0.5/24 -Root $root } | Should -Throw -ErrorId 'BridgeConflict,KvmHost.Commands.NewHostBridgeCommand'
                { New-HostBridge br1 -Interface eth9 -Root $root } | Should -Throw -ErrorId 'InterfaceNotUsable,KvmHost.Commands.NewHostBridgeCommand'
                { Remove-HostBridge br9 -Root $root } | Should -Throw -ErrorId 'BridgeNotFound,KvmHost.Commands.RemoveHostBridgeCommand'
                Get-TreeHash $root | Should -Be $before
                Test-Path (Join-Path $root 'run/lock') | Should -BeFalse
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'tab completion from the -Root the cmdlet reads' {
        BeforeAll {
            # A root with its own /sys (one NIC, one running bridge, loopback) and its own profiles: names no live host has.
            $script:completionRoot = New-ScratchRoot -Directories 'sys/class/net/kvmcnic0', 'sys/class/net/kvmcbr5/bridge', 'sys/class/net/lo' -Files @{
                'etc/sysconfig/network-scripts/ifcfg-kvmcnic1' = "DEVICE=kvmcnic1`nTYPE=Ethernet`nIPADDR=10.0.0.2`nPREFIX=24`n"
                'etc/sysconfig/network-scripts/ifcfg-kvmcport' = "DEVICE=kvmcport`nBRIDGE=kvmcbr6`n"
                'etc/sysconfig/network-scripts/ifcfg-kvmcbr6' = "DEVICE=kvmcbr6`nTYPE=Bridge`nIPADDR=10.0.1.2`nPREFIX=24`n"
                'etc/NetworkManager/system-connections/kvmcnic2.nmconnection' = "[connection]`nid=kvmcnic2`ntype=ethernet`ninterface-name=kvmcnic2`n"
                'etc/NetworkManager/system-connections/kvmcbr7.nmconnection' = "[connection]`nid=kvmcbr7`ntype=bridge`ninterface-name=kvmcbr7`n"
            }
            function Get-Completion([string] $Line) { @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText) }
        }
        AfterAll { Remove-ScratchRoot $script:completionRoot }

        It '-Interface offers the root''s NICs and configured NICs, not loopback, bridges or ports' {
            Get-Completion "New-HostBridge br0 -Root '$script:completionRoot' -Interface " | Should -Be @('kvmcnic0', 'kvmcnic1', 'kvmcnic2')
            Get-Completion "New-HostBridge br0 -Root '$script:completionRoot' -Interface kvmcnic1" | Should -Be @('kvmcnic1')
        }

        It 'bridge names come from the root''s running and configured bridges for <_>' -ForEach @(
            'New-HostBridge -Name ', 'Get-HostBridge -Name ', 'Remove-HostBridge -Name ', 'Set-IpForwarding -Uplink ', 'Test-KvmHost -BridgeName ') {
            Get-Completion "$($_.Split(' ')[0]) -Root '$script:completionRoot' $($_.Split(' ', 2)[1])" | Should -Be @('kvmcbr5', 'kvmcbr6', 'kvmcbr7')
        }

        It 'a relative -Root is taken from the current location' {
            Push-Location (Split-Path $script:completionRoot)
            try { Get-Completion "Get-HostBridge -Root ./$(Split-Path -Leaf $script:completionRoot) -Name kvmcbr" | Should -Be @('kvmcbr5', 'kvmcbr6', 'kvmcbr7') }
            finally { Pop-Location }
        }

        It 'without -Root the live system is the source (its loopback is never offered)' {
            $names = Get-Completion 'New-HostBridge br0 -Interface '
            $names | Should -Not -Contain 'lo'
            $names | Should -Not -Contain 'kvmcnic0'
            $expected = @(Get-ChildItem /sys/class/net | Where-Object { $_.Name -ne 'lo' -and -not (Test-Path "/sys/class/net/$($_.Name)/bridge") }).Name
            if ($expected) { $names | Should -Contain $expected[0] }
        }
    }

    Context 'on a live host (a network namespace lab, iproute2 backend)' {
        BeforeAll {
            if ($script:labSkip) { return }
            # Child pwsh starts are the slow part: one lab, one child for the whole story.
            $script:lab = New-NetLab
            $script:etc = Join-Path ([IO.Path]::GetTempPath()) ('kvmhost-etc-' + [guid]::NewGuid().ToString('N'))
            $nic = $script:lab.NIC
            $script:story = Invoke-KvmHostInLab -Lab $script:lab.LAB -EtcOverlay $script:etc -Script @"
`$r = [ordered]@{}
# No NetworkManager answers in this lab: point its clients at a bus that does not exist, whatever the machine runs.
`$env:DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/kvmhost-test-no-bus'
`$r.PreviewNoNm = Step { New-HostBridge br0 -Interface $nic -Backend NetworkManager -WhatIf }
`$r.RealNoNm = Step { New-HostBridge br0 -Interface $nic -Force }
`$r.MissingNicPreview = Step { New-HostBridge br0 -Interface nosuchnic0 -Backend NetworkManager -WhatIf }
`$r.MissingNic = Step { New-HostBridge br0 -Interface nosuchnic0 -Force }
`$r.LockAfterPreviews = Test-Path /run/lock/kvmhost.lock
`$r.AfterPreviews = Links
`$r.Unconfirmed = Step { New-HostBridge br0 -Interface $nic -Backend NetworkScripts }
`$r.AfterUnconfirmed = Links
`$r.Broken = Step { New-HostBridge br0 -Interface $nic -Backend NetworkScripts -IPAddress 198.51.100.10/24 -Gateway 198.51.100.1 -Force -RollbackTimeout 5 }
`$r.AfterBroken = Links
`$r.GatewayAfterBroken = Answers '$($script:lab.GW_IP)'
`$r.FilesAfterBroken = @(Get-ChildItem /etc/sysconfig/network-scripts -ErrorAction Ignore | ForEach-Object Name)
`$r.Good = Step { New-HostBridge br0 -Interface $nic -Backend NetworkScripts -Force -RollbackTimeout 20 }
`$r.AfterGood = Links
`$r.GatewayAfterGood = Answers '$($script:lab.GW_IP)'
`$r.BridgeFile = Get-Content /etc/sysconfig/network-scripts/ifcfg-br0
`$r.PortFile = Get-Content /etc/sysconfig/network-scripts/ifcfg-$nic
`$r.Again = Step { New-HostBridge br0 -Interface $nic -Backend NetworkScripts -Force }
`$r.Listed = Step { Get-HostBridge br0 }
`$r.Removed = Step { Remove-HostBridge br0 -Backend NetworkScripts -Force -RollbackTimeout 20 }
`$r.AfterRemoved = Links
`$r.GatewayAfterRemoved = Answers '$($script:lab.GW_IP)'
`$r.PortFileAfterRemoved = Get-Content /etc/sysconfig/network-scripts/ifcfg-$nic
`$r.BridgeFileAfterRemoved = Test-Path /etc/sysconfig/network-scripts/ifcfg-br0
`$r
"@
        }
        AfterAll {
            if ($script:lab) { Remove-NetLab -Name $script:lab.LAB }
            if ($script:etc) { Remove-Item -Recurse -Force $script:etc -ErrorAction Ignore }
        }

        It 'previews with NetworkManager not running: files, live steps, and NetworkManagerNotRunning as what blocks a real run' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $preview = $script:story.PreviewNoNm
            $preview.Errors | Should -BeNullOrEmpty
            $result = $preview.Results[0]
            $result.WhatIf | Should -BeTrue
            $result.Changed | Should -BeFalse
            $result.PlannedChanges | Should -Contain 'Create (bridge): /etc/NetworkManager/system-connections/br0.nmconnection'
            @($result.PlannedChanges -match '^Run: nmcli connection load /etc/NetworkManager/system-connections/br0\.nmconnection$').Count | Should -Be 1
            @($result.PlannedChanges -match '^Run: busctl call .* CheckpointCreate').Count | Should -Be 1
            @($result.Blockers -match '^NetworkManagerNotRunning: ').Count | Should -Be 1
            # State is the system now: the NIC is not bridged, so the bridge is not there.
            $result.Active | Should -BeFalse
            $result.Addresses | Should -BeNullOrEmpty
        }

        It 'a real run with NetworkManager not running stops with its own id, and the hint fits the release' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:story.RealNoNm.Errors | Should -Be @('NetworkManagerNotRunning,KvmHost.Commands.NewHostBridgeCommand')
            $hint = $script:story.RealNoNm.Hints[0]
            $hint | Should -Match 'systemctl start NetworkManager'
            # This machine's release (the lab shares its /etc) has no network-scripts unless it is RHEL 7/8.
            $release = Get-Content /etc/os-release -Raw
            if ($release -notmatch '(?m)^ID_LIKE=.*rhel' -or $release -notmatch '(?m)^VERSION_ID="?[78]') { $hint | Should -Not -Match 'NetworkScripts|network-scripts' }
        }

        It 'a missing NIC is InterfaceNotFound, in a preview and in a real run, before any backend check' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:story.MissingNicPreview.Errors | Should -Be @('InterfaceNotFound,KvmHost.Commands.NewHostBridgeCommand')
            $script:story.MissingNic.Errors | Should -Be @('InterfaceNotFound,KvmHost.Commands.NewHostBridgeCommand')
            $script:story.MissingNic.Hints[0] | Should -Match ([regex]::Escape($script:lab.NIC))
        }

        It 'previews and refusals take no lock and change no link' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:story.LockAfterPreviews | Should -BeFalse
            $script:story.AfterPreviews.ifname | Should -Not -Contain 'br0'
            ($script:story.AfterPreviews | Where-Object ifname -eq $script:lab.NIC).addr_info.local | Should -Contain $script:lab.HOST_IP
        }

        It 'asks before moving the NIC with the default route, and a session that cannot prompt changes nothing' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:story.Unconfirmed.Errors | Should -Contain 'BridgeConfirmationRequired,KvmHost.Commands.NewHostBridgeCommand'
            $script:story.AfterUnconfirmed.ifname | Should -Not -Contain 'br0'
        }

        It 'rolls back a bridge that breaks the link (a wrong address) and the gateway answers again' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $broken = $script:story.Broken
            $broken.Errors | Should -Contain 'BridgeRolledBack,KvmHost.Commands.NewHostBridgeCommand'
            $broken.Results[0].RolledBack | Should -BeTrue
            $broken.Results[0].Active | Should -BeFalse
            $broken.Results[0].RollbackReason | Should -Match ([regex]::Escape($script:lab.GW_IP))
            $script:story.AfterBroken.ifname | Should -Not -Contain 'br0'
            ($script:story.AfterBroken | Where-Object ifname -eq $script:lab.NIC).addr_info.local | Should -Contain $script:lab.HOST_IP
            $script:story.GatewayAfterBroken | Should -BeTrue
            $script:story.FilesAfterBroken | Should -BeNullOrEmpty
        }

        It 'bridges the veth with its address and MAC, and the gateway still answers' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $good = $script:story.Good
            $good.Errors | Should -BeNullOrEmpty
            $good.Results[0].Active | Should -BeTrue
            $good.Results[0].Changed | Should -BeTrue
            ($good.Results[0].Probes | Where-Object Target -eq $script:lab.GW_IP).After | Should -BeTrue
            $bridge = $script:story.AfterGood | Where-Object ifname -eq 'br0'
            $bridge.addr_info.local | Should -Contain $script:lab.HOST_IP
            $bridge.address | Should -Be $script:lab.NIC_MAC
            $port = $script:story.AfterGood | Where-Object ifname -eq $script:lab.NIC
            $port.master | Should -Be 'br0'
            $port.addr_info.local | Should -Not -Contain $script:lab.HOST_IP
            $script:story.GatewayAfterGood | Should -BeTrue
            $script:story.BridgeFile | Should -Contain "IPADDR=$($script:lab.HOST_IP)"
            $script:story.BridgeFile | Should -Contain "GATEWAY=$($script:lab.GW_IP)"
            $script:story.PortFile | Should -Contain 'BRIDGE=br0'
            $script:story.PortFile -match '^IPADDR' | Should -BeNullOrEmpty
        }

        It 'asked the same again runs nothing and reports Changed = False; Get-HostBridge sees it' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:story.Again.Results[0].Changed | Should -BeFalse
            @($script:story.Again.Results[0].LiveChanges).Count | Should -Be 0
            $listed = $script:story.Listed.Results[0]
            $listed.Active | Should -BeTrue
            $listed.Ports | Should -Be @($script:lab.NIC)
            $listed.Backend | Should -Be 'NetworkScripts'
        }

        It 'Remove-HostBridge gives the NIC its address back and the gateway answers' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:story.Removed.Errors | Should -BeNullOrEmpty
            $script:story.Removed.Results[0].Changed | Should -BeTrue
            $script:story.AfterRemoved.ifname | Should -Not -Contain 'br0'
            ($script:story.AfterRemoved | Where-Object ifname -eq $script:lab.NIC).addr_info.local | Should -Contain $script:lab.HOST_IP
            $script:story.GatewayAfterRemoved | Should -BeTrue
            $script:story.PortFileAfterRemoved | Should -Contain "IPADDR=$($script:lab.HOST_IP)"
            $script:story.PortFileAfterRemoved | Should -Not -Contain 'BRIDGE=br0'
            $script:story.BridgeFileAfterRemoved | Should -BeFalse
        }
    }

    Context 'piped into Set-IpForwarding on a live host (the README pipeline, in a network namespace lab)' {
        BeforeAll {
            if ($script:labSkip) { return }
            $script:pipeLab = New-NetLab
            $script:pipeEtc = Join-Path ([IO.Path]::GetTempPath()) ('kvmhost-etc-' + [guid]::NewGuid().ToString('N'))
            $nic = $script:pipeLab.NIC
            # New-HostBridge writes its result while it still holds the host lock; Set-IpForwarding, run inside that
            # WriteObject on the same thread, takes the lock for its input object. Before the lock was re-entrant on
            # one thread this waited 30 s and failed with LockTimeout.
            $script:piped = Invoke-KvmHostInLab -Lab $script:pipeLab.LAB -EtcOverlay $script:pipeEtc -Script @"
`$r = [ordered]@{}
`$r.Pipeline = Step { New-HostBridge br0 -Interface $nic -Backend NetworkScripts -Force -RollbackTimeout 20 | Set-IpForwarding -WarningAction SilentlyContinue }
`$r.Bridge = Step { Get-HostBridge br0 }
`$r.Forwarding = (Get-Content /proc/sys/net/ipv4/ip_forward).Trim()
`$r.DropIn = Get-Content /etc/sysctl.d/90-kvmhost-forwarding.conf -ErrorAction Ignore
& flock --nonblock /run/lock/kvmhost.lock true
`$r.LockFreeAfter = `$LASTEXITCODE -eq 0
`$r
"@
        }
        AfterAll {
            if ($script:pipeLab) { Remove-NetLab -Name $script:pipeLab.LAB }
            if ($script:pipeEtc) { Remove-Item -Recurse -Force $script:pipeEtc -ErrorAction Ignore }
        }

        It 'bridges, then forwards on the bridge in the same pipeline, and releases the lock at the end' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:piped.Pipeline.Errors | Should -BeNullOrEmpty
            # The bridge's result is Set-IpForwarding's input (its Name binds -Uplink); what comes out is forwarding's.
            $script:piped.Pipeline.Results | Should -HaveCount 1
            $forwarding = $script:piped.Pipeline.Results[0]
            $script:piped.Bridge.Results[0].Active | Should -BeTrue
            $script:piped.Bridge.Results[0].Ports | Should -Be @($script:pipeLab.NIC)
            $forwarding.Key | Should -Be 'net.ipv4.ip_forward'
            $forwarding.Changed | Should -BeTrue
            $forwarding.RuntimeValue | Should -Be 1
            $script:piped.Forwarding | Should -Be '1' -Because 'the lab namespace forwards now'
            $script:piped.DropIn | Should -Contain 'net.ipv4.ip_forward = 1'
            $script:piped.LockFreeAfter | Should -BeTrue -Because 'both commands let go of /run/lock/kvmhost.lock'
        }
    }

    Context 'a preview without root' {
        BeforeAll {
            if ($script:labSkip) { return }
            $script:userLab = New-NetLab
            $script:pwshCopy = New-UnprivilegedPwsh
            # An offline image with a world-readable ifcfg file, and one with a 0600 keyfile as NetworkManager keeps them.
            $script:ifcfgRoot = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/centos-7.os-release' } -Files @{
                'etc/sysconfig/network-scripts/ifcfg-eth0' = "DEVICE=eth0`nBOOTPROTO=none`nIPADDR=192.168.0.18`nPREFIX=24`nGATEWAY=192.168.0.1`nONBOOT=yes`n"
                'etc/sysconfig/network-scripts/ifcfg-br5' = "DEVICE=br5`nTYPE=Bridge`nBOOTPROTO=none`nIPADDR=10.5.0.2`nPREFIX=24`nONBOOT=yes`n"
                'etc/sysconfig/network-scripts/ifcfg-eth5' = "DEVICE=eth5`nBRIDGE=br5`nONBOOT=yes`n" }
            $script:keyfileRoot = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } -Files @{
                'etc/NetworkManager/system-connections/enp1s0.nmconnection' = "[connection]`nid=enp1s0`ntype=ethernet`ninterface-name=enp1s0`n`n[ipv4]`naddress1=10.0.0.5/24`nmethod=manual`n" }
            [IO.File]::SetUnixFileMode("$script:keyfileRoot/etc/NetworkManager/system-connections/enp1s0.nmconnection", 'UserRead, UserWrite')
            & chmod -R a+rX $script:ifcfgRoot
            & chmod a+rx $script:keyfileRoot "$script:keyfileRoot/etc" "$script:keyfileRoot/etc/NetworkManager" "$script:keyfileRoot/etc/NetworkManager/system-connections"
            $script:before = @{ Ifcfg = Get-TreeHash $script:ifcfgRoot; Keyfile = Get-TreeHash $script:keyfileRoot }
            $probe = @"
Import-Module '$($script:pwshCopy.Module)'
`$env:DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/kvmhost-test-no-bus'
function Step([scriptblock] `$Block) {
    try { `$all = @(& `$Block 2>&1) } catch { `$all = @(`$_) }
    @{ Results = @(`$all | Where-Object { `$_ -isnot [System.Management.Automation.ErrorRecord] })
       Errors = @(`$all | Where-Object { `$_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object FullyQualifiedErrorId) }
}
`$r = [ordered]@{ Uid = "`$(id -u)" }
`$r.Offline = Step { New-HostBridge br0 -Interface eth0 -Root '$script:ifcfgRoot' -WhatIf }
`$r.Keyfiles = Step { New-HostBridge br0 -Interface enp1s0 -Root '$script:keyfileRoot' -WhatIf }
`$r.Live = Step { New-HostBridge br0 -Interface $($script:userLab.NIC) -Backend NetworkScripts -WhatIf }
`$r.LiveReal = Step { New-HostBridge br0 -Interface $($script:userLab.NIC) -Backend NetworkScripts -Force }
`$r.Remove = Step { Remove-HostBridge br5 -Root '$script:ifcfgRoot' -WhatIf }
'@@JSON@@' + (`$r | ConvertTo-Json -Depth 6 -Compress)
"@
            $run = Invoke-InNetLab -Name $script:userLab.LAB -Command ($script:pwshCopy.Command + $probe) -TimeoutSec 300
            $line = $run.Output | Where-Object { $_.StartsWith('@@JSON@@') } | Select-Object -Last 1
            if (-not $line) { throw "no result from the unprivileged pwsh (exit $($run.ExitCode)): $($run.StdOut) $($run.StdErr)" }
            $script:user = $line.Substring(8) | ConvertFrom-Json
        }
        AfterAll {
            if ($script:userLab) { Remove-NetLab -Name $script:userLab.LAB }
            foreach ($path in $script:pwshCopy.Path, $script:ifcfgRoot, $script:keyfileRoot) { if ($path) { Remove-ScratchRoot $path } }
        }

        It 'runs as uid 65534' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return } $script:user.Uid | Should -Be '65534' }

        It 'previews an image it can read, and the live host, without root; NotRoot is what blocks the real run' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:user.Offline.Errors | Should -BeNullOrEmpty
            $script:user.Offline.Results[0].WhatIf | Should -BeTrue
            $script:user.Offline.Results[0].PlannedChanges | Should -Contain 'Create (bridge): /etc/sysconfig/network-scripts/ifcfg-br0'
            $script:user.Offline.Results[0].Blockers | Should -BeNullOrEmpty -Because 'an image needs write access, not root'
            $script:user.Live.Errors | Should -BeNullOrEmpty
            @($script:user.Live.Results[0].PlannedChanges -match '^Run: ip link add name br0').Count | Should -Be 1
            @($script:user.Live.Results[0].Blockers -match '^NotRoot: ').Count | Should -Be 1
            $script:user.LiveReal.Errors | Should -Be @('NotRoot,KvmHost.Commands.NewHostBridgeCommand')
            $script:user.Remove.Errors | Should -BeNullOrEmpty
            $script:user.Remove.Results[0].WhatIf | Should -BeTrue
        }

        It 'says a 0600 keyfile it cannot read is why it cannot preview, instead of planning without it' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            $script:user.Keyfiles.Errors | Should -Be @('FileUnreadable,KvmHost.Commands.NewHostBridgeCommand')
        }

        It 'left both images as they were' {

            if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
            Get-TreeHash $script:ifcfgRoot | Should -Be $script:before.Ifcfg
            Get-TreeHash $script:keyfileRoot | Should -Be $script:before.Keyfile
        }
    }

    Context 'with a real NetworkManager in a lab' {
        BeforeAll {
            if ($script:nmSkip) { return }
            $script:nmLab = New-NetLab
            $script:nm = Start-NetLabNetworkManager -Name $script:nmLab.LAB
            $nic = $script:nmLab.NIC
            $script:nmStory = Invoke-KvmHostInLab -Lab $script:nmLab.LAB -NetworkManager -Script @"
`$r = [ordered]@{}
`$r.Good = Step { New-HostBridge br0 -Interface $nic -Force -RollbackTimeout 20 }
`$r.Active = @(nmcli -t -f NAME,DEVICE connection show --active)
`$r.PortKeyfile = Get-Content -Raw /etc/NetworkManager/system-connections/br0-port-$nic.nmconnection
`$r.PortKeyfileMode = [int](Get-Item /etc/NetworkManager/system-connections/br0-port-$nic.nmconnection).UnixFileMode
`$r.GatewayAfterGood = Answers '$($script:nmLab.GW_IP)'
`$r.Checkpoints = "`$(busctl get-property org.freedesktop.NetworkManager /org/freedesktop/NetworkManager org.freedesktop.NetworkManager Checkpoints)"
`$r.Again = Step { New-HostBridge br0 -Interface $nic -Force }
`$r.AgainVerbose = @(New-HostBridge br0 -Interface $nic -Force -Verbose 4>&1 | Where-Object { `$_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
`$r.Removed = Step { Remove-HostBridge br0 -Force -RollbackTimeout 20 }
`$r.AfterRemoved = Links
`$r.GatewayAfterRemoved = Answers '$($script:nmLab.GW_IP)'
`$r.NicProfile = Get-Content -Raw /etc/NetworkManager/system-connections/$nic.nmconnection
`$r.Broken = Step { New-HostBridge br0 -Interface $nic -IPAddress 198.51.100.10/24 -Gateway 198.51.100.1 -Force -RollbackTimeout 5 }
`$r.AfterBroken = Links
`$r.GatewayAfterBroken = Answers '$($script:nmLab.GW_IP)'
`$r.ProfilesAfterBroken = @(nmcli -t -f NAME connection show)
`$r
"@
        }
        AfterAll { if ($script:nmLab) { Remove-NetLab -Name $script:nmLab.LAB } }

        It 'bridges with keyfiles under a checkpoint and the gateway still answers' {

            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $good = $script:nmStory.Good
            $good.Errors | Should -BeNullOrEmpty
            $good.Results[0].Backend | Should -Be 'NetworkManager'
            $good.Results[0].Active | Should -BeTrue
            $good.Results[0].LiveChanges | Should -Contain 'nmcli connection load /etc/NetworkManager/system-connections/br0.nmconnection'
            @($good.Results[0].LiveChanges -match 'CheckpointCreate').Count | Should -Be 1
            @($good.Results[0].LiveChanges -match 'CheckpointDestroy').Count | Should -Be 1
            $script:nmStory.Active | Should -Contain 'br0:br0'
            $script:nmStory.Active | Should -Contain "br0-port-$($script:nmLab.NIC):$($script:nmLab.NIC)"
            $script:nmStory.GatewayAfterGood | Should -BeTrue
            $script:nmStory.Checkpoints | Should -Match '^ao 0'
            $script:nmStory.PortKeyfileMode | Should -Be 384 -Because 'NetworkManager ignores keyfiles that are not 0600'
            $legacy = $script:nm.NM_VERSION -match '^1\.(4[0-5]|[0-3][0-9])\.'
            $script:nmStory.PortKeyfile | Should -Match $(if ($legacy) { "master=br0`nslave-type=bridge" } else { "controller=br0`ninterface-name=\S+`nport-type=bridge" })
        }

        It 'asked the same again changes nothing' {

            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $script:nmStory.Again.Results[0].Changed | Should -BeFalse
        }

        It 'asks NetworkManager on its bus and reads the network from netlink: a converged run starts no program' {

            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $verbose = @($script:nmStory.AgainVerbose)
            @($verbose -match '^D-Bus: busctl call org\.freedesktop\.DBus .* NameHasOwner s org\.freedesktop\.NetworkManager$').Count | Should -Be 1
            @($verbose -match '^D-Bus: busctl call org\.freedesktop\.NetworkManager .* Get ss org\.freedesktop\.NetworkManager Version$').Count | Should -Be 1
            @($verbose -match '^Running: ') | Should -BeNullOrEmpty -Because 'nmcli, busctl and ip are not needed when nothing changes'
            # The checkpoint of the converging run went over the bus too.
            @($script:nmStory.Good.Results[0].LiveChanges -match 'CheckpointCreate aouu 0 \d+ 6  \(over D-Bus\)$').Count | Should -Be 1
        }

        It 'Remove-HostBridge gives the NIC a profile with the bridge''s address and the gateway answers' {

            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $script:nmStory.Removed.Errors | Should -BeNullOrEmpty
            $script:nmStory.AfterRemoved.ifname | Should -Not -Contain 'br0'
            ($script:nmStory.AfterRemoved | Where-Object ifname -eq $script:nmLab.NIC).addr_info.local | Should -Contain $script:nmLab.HOST_IP
            $script:nmStory.GatewayAfterRemoved | Should -BeTrue
            $script:nmStory.NicProfile | Should -Match "address1=$([regex]::Escape($script:nmLab.HOST_CIDR))"
        }

        It 'rolls a broken bridge back through the checkpoint' {

            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $broken = $script:nmStory.Broken
            $broken.Errors | Should -Contain 'BridgeRolledBack,KvmHost.Commands.NewHostBridgeCommand'
            $broken.Results[0].RolledBack | Should -BeTrue
            @($broken.Results[0].LiveChanges -match 'CheckpointRollback').Count | Should -Be 1
            $script:nmStory.AfterBroken.ifname | Should -Not -Contain 'br0'
            ($script:nmStory.AfterBroken | Where-Object ifname -eq $script:nmLab.NIC).addr_info.local | Should -Contain $script:nmLab.HOST_IP
            $script:nmStory.GatewayAfterBroken | Should -BeTrue
            $script:nmStory.ProfilesAfterBroken | Should -Not -Contain 'br0'
            Test-Path (Join-Path $script:nm.SYSTEM_CONNECTIONS_DIR 'br0.nmconnection') | Should -BeFalse
        }
    }
}
