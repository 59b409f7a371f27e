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
    $script:privateEtc = Join-Path $PSScriptRoot 'harness/private-etc.sh'

    function Invoke-KvmHostInLab {
        # Runs $Script with the built module in ONE child pwsh inside the lab (host namespace, or next
        # to the lab's NetworkManager) and returns what it returns, through JSON. In the child, Step {}
        # gives { Results; Errors } of a block, Links the namespace's 'ip -j' view, Answers a ping.
        param([string] $Lab, [string] $Script, [string] $EtcOverlay, [switch] $NetworkManager)
        $file = Join-Path ([IO.Path]::GetTempPath()) ("kvmhost-bridge-" + [guid]::NewGuid().ToString('N') + '.ps1')
        Set-Content -LiteralPath $file -Value @"
Import-Module '$(Get-KvmHostModulePath)'
function Step([scriptblock] `$Block) {
    try { `$all = @(& `$Block 2>&1) } catch { `$all = @(`$_) }
    @{ Results = @(`$all | Where-Object { `$_ -isnot [System.Management.Automation.ErrorRecord] })
       Errors = @(`$all | Where-Object { `$_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object FullyQualifiedErrorId) }
}
function Links { ip -j -d address show | ConvertFrom-Json }
function Answers([string] `$Address) {
    `$ping = [System.Net.NetworkInformation.Ping]::new()
    foreach (`$try in 1..5) { try { if (`$ping.Send(`$Address, 1000).Status -eq 'Success') { return `$true } } catch { }; Start-Sleep -Milliseconds 300 }
    `$false
}
`$out = & { $Script }
'@@JSON@@' + (`$out | ConvertTo-Json -Depth 8 -Compress)
"@
        try {
            $command = @(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-File', $file)
            if ($EtcOverlay) { $command = @('bash', $script:privateEtc, '--upper', $EtcOverlay, '--') + $command }
            $run = if ($NetworkManager) { Invoke-InNetLab -Name $Lab -NetworkManager -Command $command -TimeoutSec 400 }
                   else { Invoke-InNetLab -Name $Lab -Command $command -TimeoutSec 400 }
            $line = $run.Output | Where-Object { $_.StartsWith('@@JSON@@') } | Select-Object -Last 1
            if (-not $line) { throw "no result from the child pwsh (exit $($run.ExitCode)): $($run.StdOut) $($run.StdErr)" }
            $line.Substring(8) | ConvertFrom-Json
        } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
    }

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
                $result.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Bridge.HostBridge'
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

        It '-WhatIf lists every file and writes none' {
            $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/rocky-9.5.os-release' }
            try {
                $before = Get-TreeHash $root
                $result = New-HostBridge br0 -Interface eno1 -IPAddress 10.1.1.2/24 -Root $root -WhatIf
                $result.WhatIf | Should -BeTrue
                $result.Changed | Should -BeFalse
                $result.ConfigurationFiles.Count | Should -Be 2
                Get-TreeHash $root | Should -Be $before
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

        It 'completes interface names from /sys/class/net without loopback' {
            $completion = TabExpansion2 -inputScript 'New-HostBridge br0 -Interface ' -cursorColumn 'New-HostBridge br0 -Interface '.Length
            $names = @($completion.CompletionMatches.CompletionText)
            $names | Should -Not -Contain 'lo'
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
