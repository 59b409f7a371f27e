BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
}

Describe 'Remove-HostBridge' {
    It 'gives the NIC the bridge''s settings back in ifcfg and removes the bridge file with a backup' {
        $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{ 'etc/os-release' = 'os-release/centos-7.os-release' }
        try {
            $null = New-HostBridge br0 -Interface eth0 -IPAddress 192.168.0.18/24 -Gateway 192.168.0.1 -DnsServer 192.168.0.1 -Root $root
            $result = Remove-HostBridge br0 -Root $root
            $result.Changed | Should -BeTrue
            # The result describes the bridge as it is now: gone, with no files left.
            $result.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Bridge.HostBridgeResult'
            $result.Ports | Should -BeNullOrEmpty
            $result.ConfigurationFiles | Should -BeNullOrEmpty
            $result.Notes | Should -Contain 'eth0 gets the bridge''s settings: 192.168.0.18/24.'
            $dir = Join-Path $root 'etc/sysconfig/network-scripts'
            Test-Path (Join-Path $dir 'ifcfg-br0') | Should -BeFalse
            $nic = Get-Content (Join-Path $dir 'ifcfg-eth0')
            $nic | Should -Contain 'IPADDR=192.168.0.18'
            $nic | Should -Contain 'GATEWAY=192.168.0.1'
            $nic | Should -Contain 'DNS1=192.168.0.1'
            $nic | Should -Not -Contain 'BRIDGE=br0'
            @(Get-ChildItem -Force $dir -Filter '.ifcfg-br0.kvmhost-*.bak').Count | Should -Be 1
            # Nothing left to do the second time.
            { Remove-HostBridge br0 -Root $root } | Should -Throw -ErrorId 'BridgeNotFound,KvmHost.Commands.RemoveHostBridgeCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'removes NetworkManager profiles and re-enables the NIC''s own profile with the bridge''s address' {
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.4.os-release' } -Files @{
            'run/lock/kvmhost.lock' = ''
            'etc/NetworkManager/system-connections/enp1s0.nmconnection' = "[connection]`nid=enp1s0`nuuid=9342d47a-1bab-5709-9869-c840b2eac501`ntype=ethernet`ninterface-name=enp1s0`n`n[ipv4]`naddress1=10.0.0.5/24`nmethod=manual`n"
        }
        try {
            $null = New-HostBridge br0 -Interface enp1s0 -IPAddress 10.0.0.7/24 -Gateway 10.0.0.1 -Root $root
            $null = Remove-HostBridge br0 -Root $root
            $dir = Join-Path $root 'etc/NetworkManager/system-connections'
            @(Get-ChildItem $dir).Name | Should -Be @('enp1s0.nmconnection')
            $profile = Get-Content -Raw (Join-Path $dir 'enp1s0.nmconnection')
            $profile | Should -Not -Match 'autoconnect=false'
            $profile | Should -Match "address1=10\.0\.0\.7/24`ngateway=10\.0\.0\.1`nmethod=manual"
        } finally { Remove-ScratchRoot $root }
    }

    It 'gives the NIC back its <Kind> byte for byte, after New-HostBridge carried it to the bridge' -ForEach @(
        @{ Kind = 'keyfile'; OsRelease = 'os-release/rhel-9.6.os-release'; Path = 'etc/NetworkManager/system-connections/enp1s0.nmconnection'
           Text = "# the admin's`n[connection]`nid=uplink`nuuid=8d7c6b5a-4e3f-4a2b-9c1d-0e9f8a7b6c5d`ntype=ethernet`ninterface-name=enp1s0`nzone=internal`n`n[ipv4]`naddress1=10.0.0.5/24,10.0.0.1`nmethod=manual`n`n[ipv6]`nmethod=disabled`n"
           Bridge = 'etc/NetworkManager/system-connections/br0.nmconnection'; Carried = 'Carry: connection.zone=internal to the bridge' }
        @{ Kind = 'ifcfg file'; OsRelease = 'os-release/centos-7.os-release'; Path = 'etc/sysconfig/network-scripts/ifcfg-enp1s0'
           Text = "# the admin's`nDEVICE=enp1s0`nBOOTPROTO=none`nIPADDR=10.0.0.5`nNETMASK=255.255.255.0`nGATEWAY=10.0.0.1`nZONE=internal`nIPV6INIT=no`nIPV6_DISABLED=yes`nONBOOT=yes`n"
           Bridge = 'etc/sysconfig/network-scripts/ifcfg-br0'; Carried = 'Carry: ZONE=internal to the bridge' }
    ) {
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = $OsRelease } -Files @{ $Path = $Text }
        try {
            [IO.File]::SetUnixFileMode("$root/$Path", 'UserRead, UserWrite')
            $original = [IO.File]::ReadAllBytes("$root/$Path")
            (New-HostBridge br0 -Interface enp1s0 -Root $root -WhatIf).PlannedChanges | Should -Contain $Carried
            $null = New-HostBridge br0 -Interface enp1s0 -Root $root
            Get-Content -Raw "$root/$Bridge" | Should -Match 'internal'
            $removed = Remove-HostBridge br0 -Root $root
            $removed.Notes | Should -Contain 'enp1s0 gets its own files back as they were before the bridge.'
            [IO.File]::ReadAllBytes("$root/$Path") | Should -Be $original
            Test-Path "$root/$Bridge" | Should -BeFalse
            @(Get-ChildItem -Force (Split-Path "$root/$Path") -Filter '*.orig').Count | Should -Be 0
        } finally { Remove-ScratchRoot $root }
    }

    It '-WhatIf changes nothing, takes no lock, shows the bridge as it is and lists what it would do' {
        $root = New-ScratchRoot -Fixtures @{
            'etc/os-release' = 'os-release/centos-7.os-release'
            'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0'
            'etc/sysconfig/network-scripts/ifcfg-eth1' = 'ifcfg/initscripts-example-ifcfg-eth1-bridge-port'
        }
        try {
            $before = Get-TreeHash $root
            $preview = Remove-HostBridge br0 -Root $root -WhatIf
            $preview.WhatIf | Should -BeTrue
            $preview.Changed | Should -BeFalse
            $preview.Ports | Should -Be @('eth1')
            $preview.ConfigurationFiles | Should -Contain '/etc/sysconfig/network-scripts/ifcfg-br0'
            $preview.PlannedChanges | Should -Be @(
                'Replace (interface, keeping a hidden backup): /etc/sysconfig/network-scripts/ifcfg-eth1'
                'Remove (keeping a hidden backup): /etc/sysconfig/network-scripts/ifcfg-br0')
            Get-TreeHash $root | Should -Be $before
        } finally { Remove-ScratchRoot $root }
    }

    It 'refuses a bad name before reading anything' {
        { Remove-HostBridge "br0`nX=1" -Root / } | Should -Throw -ErrorId 'InvalidInterfaceName,KvmHost.Commands.RemoveHostBridgeCommand'
    }
}
