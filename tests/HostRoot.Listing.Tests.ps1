BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force

    function New-RootWithBinaryIfcfg {
        # A RHEL 7 root whose network-scripts folder holds, besides real profiles, a file that is not text
        # (a core dump or an image copied there by mistake): readers pass over it the way initscripts would.
        $root = New-ScratchRoot -Files @{ 'run/lock/kvmhost.lock' = '' } -Fixtures @{
            'etc/os-release' = 'os-release/centos-7.os-release'
            'etc/sysconfig/network-scripts/ifcfg-eth0' = 'ifcfg/initscripts-example-ifcfg-eth0-dhcp'
        }
        [IO.File]::WriteAllBytes((Join-Path $root 'etc/sysconfig/network-scripts/ifcfg-junk'), [byte[]](0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 1, 0))
        $root
    }
}

Describe 'Folders are listed one way: what cannot be read as configuration is passed over' {
    It 'a binary ifcfg-* file breaks none of New-, Get- and Remove-HostBridge' {
        $root = New-RootWithBinaryIfcfg
        try {
            $junk = Join-Path $root 'etc/sysconfig/network-scripts/ifcfg-junk'
            $junkHash = (Get-FileHash $junk).Hash
            $created = New-HostBridge br0 -Interface eth0 -IPAddress 192.168.0.18/24 -Gateway 192.168.0.1 -Root $root
            $created.Changed | Should -BeTrue
            @(Get-HostBridge -Root $root).Name | Should -Be @('br0')
            (Remove-HostBridge br0 -Root $root).Changed | Should -BeTrue
            @(Get-HostBridge -Root $root).Count | Should -Be 0
            (Get-FileHash $junk).Hash | Should -Be $junkHash
        } finally { Remove-ScratchRoot $root }
    }
}
