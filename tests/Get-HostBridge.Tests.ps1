BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
}

Describe 'Get-HostBridge' {
    It 'lists bridges from ifcfg files and keyfiles with their ports, changing nothing' {
        $root = New-ScratchRoot -Fixtures @{
            'etc/sysconfig/network-scripts/ifcfg-br0'  = 'ifcfg/initscripts-example-ifcfg-br0'
            'etc/sysconfig/network-scripts/ifcfg-eth1' = 'ifcfg/initscripts-example-ifcfg-eth1-bridge-port'
            'etc/NetworkManager/system-connections/main.nmconnection' = 'keyfile/nm-test-Test_Bridge_Main.nmconnection'
            'etc/NetworkManager/system-connections/port.nmconnection' = 'keyfile/nm-test-Test_Bridge_Component-legacy-master-slave.nmconnection'
        }
        try {
            $before = Get-TreeHash $root
            $bridges = @(Get-HostBridge -Root $root)
            $bridges.Name | Should -Be @('br0')
            $bridges[0].Ports | Should -Be @('eth1')
            $bridges[0].Backend | Should -Be 'NetworkScripts,NetworkManager'
            $bridges[0].Addresses | Should -Be @('192.168.1.1/24')
            $bridges[0].Active | Should -BeFalse
            $bridges[0].ConfigurationFiles | Should -Contain '/etc/NetworkManager/system-connections/main.nmconnection'
            Get-TreeHash $root | Should -Be $before
        } finally { Remove-ScratchRoot $root }
    }

    It 'describes state only: no Changed, RolledBack or WhatIf, in the object and in its view' {
        $root = New-ScratchRoot -Fixtures @{ 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
        try {
            $bridge = Get-HostBridge -Root $root
            $bridge.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Bridge.HostBridge'
            foreach ($setterOnly in 'Changed', 'RolledBack', 'RollbackReason', 'WhatIf', 'RuntimeApplied', 'PlannedChanges', 'FileChanges', 'LiveChanges', 'Probes') {
                $bridge.PSObject.Properties.Name | Should -Not -Contain $setterOnly
            }
            ($bridge | Out-String -Width 120) | Should -Not -Match '(?m)^(Changed|RolledBack|WhatIf)\s*:'
        } finally { Remove-ScratchRoot $root }
    }

    It 'filters by wildcard and reports a missing exact name as BridgeNotFound' {
        $root = New-ScratchRoot -Fixtures @{ 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
        try {
            @(Get-HostBridge 'b*' -Root $root).Count | Should -Be 1
            @(Get-HostBridge 'x*' -Root $root).Count | Should -Be 0
            { Get-HostBridge br9 -Root $root -ErrorAction Stop } | Should -Throw -ErrorId 'BridgeNotFound,KvmHost.Commands.GetHostBridgeCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'shows a bridge with the default view, also after remoting-style serialization' {
        $root = New-ScratchRoot -Fixtures @{ 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
        try {
            $text = Get-HostBridge -Root $root | Out-String -Width 100
            $text | Should -Match 'ConfigurationFiles\s*:\s*/etc/sysconfig/network-scripts/ifcfg-br0'
            $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-HostBridge -Root $root)))
            $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Bridge.HostBridge'
            ($copy | Out-String -Width 100) | Should -Match 'Addresses\s*:\s*192\.168\.1\.1/24'
        } finally { Remove-ScratchRoot $root }
    }
}
