BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
}

Describe 'Get-IpForwarding' {
    Context 'on scratch roots built from real files' {
        It 'names the file that wins at boot and changes nothing' {
            $root = New-ScratchRoot -Directories 'etc/sysctl.d' -Fixtures @{
                'usr/lib/sysctl.d/50-default.conf' = 'sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf'
            } -Files @{
                'etc/sysctl.conf'                          = "# RHEL 6 era`nnet.ipv4.ip_forward = 0`n"
                'etc/sysctl.d/90-kvmhost-forwarding.conf' = "net.ipv4.ip_forward = 1`nnet/ipv6/conf/all/forwarding=1`n"
            }
            $null = New-Item -ItemType SymbolicLink -Path (Join-Path $root 'etc/sysctl.d/99-sysctl.conf') -Target '../sysctl.conf'
            try {
                $hash = Get-TreeHash $root
                $ipv4, $ipv6 = Get-IpForwarding -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
                Get-TreeHash $root | Should -Be $hash

                $ipv4.Overridden | Should -BeTrue
                $ipv4.ConfiguredValue | Should -Be 1
                $ipv4.PersistentValue | Should -Be 0
                $ipv4.EffectiveFile | Should -Be '/etc/sysctl.conf'
                $ipv4.ConfigurationFile | Should -Be '/etc/sysctl.d/90-kvmhost-forwarding.conf'
                "$warnings" | Should -Match '99-sysctl\.conf -> /etc/sysctl\.conf line 2'

                # The slash spelling is the same key; RHEL 9's globs and "-" keys do not touch it.
                $ipv6.Overridden | Should -BeFalse
                $ipv6.PersistentValue | Should -Be 1
                $ipv6.EffectiveLine | Should -Be 2
                $ipv6.RuntimeApplied | Should -BeFalse
            } finally { Remove-ScratchRoot $root }
        }

        It 'reports an unset key as no value and no winning file' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/sysctl.conf' = 'sysctl/rhel7-etc-sysctl.conf' }
            try {
                $result = Get-IpForwarding -Root $root -AddressFamily IPv4
                $result.PersistentValue | Should -BeNullOrEmpty
                $result.EffectiveFile | Should -BeNullOrEmpty
                $result.ConfiguredValue | Should -BeNullOrEmpty
                $result.Overridden | Should -BeFalse
            } finally { Remove-ScratchRoot $root }
        }

        It 'describes state only: no setter fields, and no configuration file that does not exist' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/sysctl.conf' = 'sysctl/rhel7-etc-sysctl.conf' }
            try {
                $result = Get-IpForwarding -Root $root -AddressFamily IPv4
                $result.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Sysctl.IpForwardingState'
                $result.PSObject.Properties.Name | Should -Not -Contain 'Changed'
                $result.PSObject.Properties.Name | Should -Not -Contain 'PlannedChanges'
                $result.PSObject.Properties.Name | Should -Not -Contain 'WhatIf'
                $result.ConfigurationFile | Should -BeNullOrEmpty -Because '/etc/sysctl.d/90-kvmhost-forwarding.conf does not exist'
                $text = $result | Out-String -Width 120
                $text | Should -Not -Match 'Changed|PlannedChanges|WhatIf'
                $text | Should -Match 'ConfigurationFile\s+: \(not written yet\)'
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'on this machine (read only)' {
        It 'reads the running kernel''s value without changing it' {
            $result = Get-IpForwarding -AddressFamily IPv4 -WarningAction SilentlyContinue
            $result.RuntimeApplied | Should -BeTrue
            $result.RuntimeValue | Should -Be ([int](Get-Content -Raw /proc/sys/net/ipv4/ip_forward).Trim())
            $result.Root | Should -Be '/'
        }
    }

    Context 'help' {
        It 'has a synopsis and examples' {
            $help = Get-Help Get-IpForwarding -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty
            @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        }
    }
}
