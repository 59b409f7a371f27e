BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    $moduleBase = Split-Path (Get-KvmHostModulePath)
    $suite = Join-Path $moduleBase 'Compliance/KvmHost.Compliance.Tests.ps1'
    $pester = Join-Path $PSScriptRoot '.packages/pester/5.7.1/tools/Pester.psd1'

    function Invoke-ComplianceSuite([hashtable] $Data) {
        # The documented way, in a fresh pwsh: Pester cannot run inside a running Pester.
        $report = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-compliance-$([guid]::NewGuid().ToString('N').Substring(0, 8)).xml"
        $dataText = ($Data.GetEnumerator() | ForEach-Object { "'$($_.Key)' = '$($_.Value)'" }) -join '; '
        $script = @"
`$env:PSModulePath = '$(Split-Path $moduleBase)' + [IO.Path]::PathSeparator + `$env:PSModulePath
Import-Module '$pester'
`$config = New-PesterConfiguration
`$config.Run.Container = New-PesterContainer -Path '$suite' -Data @{ $dataText }
`$config.TestResult.Enabled = `$true
`$config.TestResult.OutputPath = '$report'
`$config.Output.Verbosity = 'Detailed'
Invoke-Pester -Configuration `$config
"@
        $pwsh = Get-PwshInvocation
        $env:NO_COLOR = '1'
        try { $output = (& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script *>&1 | Out-String) }
        finally { Remove-Item Env:NO_COLOR }
        $xml = [xml](Get-Content -Raw $report)
        Remove-Item $report
        $cases = $xml.SelectNodes('//test-case')
        $results = @{}
        foreach ($case in $cases) { $results[$case.description] = $case.result }
        # Pester's NUnit report leaves a skip's reason out; its console output has it.
        $results['(output)'] = $output
        $results
    }
}

Describe 'The shipped compliance suite' {
    It 'is installed with the built module' {
        $suite | Should -Exist
    }

    Context 'on an offline root that lacks its packages' {
        BeforeAll {
            $root = New-ScratchRoot -Fixtures @{
                'proc/cpuinfo'   = 'cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt'
                'etc/os-release' = 'os-release/rhel-9.6.os-release'
                'etc/NetworkManager/system-connections/br0.nmconnection' = 'keyfile/nm-writer-Test_Write_Bridge_Main.nmconnection'
            } -Files @{
                'dev/kvm' = ''; 'dev/net/tun' = ''; 'dev/vhost-net' = ''
                'sys/module/kvm_intel/parameters/nested' = "N`n"
                'sys/fs/cgroup/cgroup.controllers' = "cpuset cpu io memory pids`n"
                'etc/sysctl.d/90-kvmhost-forwarding.conf' = "net.ipv4.ip_forward = 1`n"
            }
            & chmod 0600 (Join-Path $root 'etc/NetworkManager/system-connections/br0.nmconnection')
            $results = Invoke-ComplianceSuite @{ Root = $root; BridgeName = 'br0'; BridgeAddress = '1.2.3.4/24' }
        }
        AfterAll { Remove-ScratchRoot $root }

        It 'writes an NUnit report whose requirements read as sentences' {
            $results.Keys | Should -Contain 'the CPU can run hardware-accelerated guests (vmx/svm/sie, KVM module, /dev/kvm)'
            $results.Keys | Should -Contain 'package qemu-kvm is installed'
        }

        It 'passes the forwarding-at-boot and bridge requirements the root meets' {
            $results['IPv4 forwarding wins at boot (no later sysctl file overrides it)'] | Should -Be 'Success'
            $results['bridge br0 is configured to come up at boot'] | Should -Be 'Success'
            $results['bridge br0 carries the host address 1.2.3.4/24'] | Should -Be 'Success'
        }

        It 'fails one requirement per missing package' {
            $results['package qemu-kvm is installed'] | Should -Be 'Failure'
            $results['package libvirt is installed'] | Should -Be 'Failure'
        }

        It 'skips what cannot be checked offline instead of passing it: the CPU, devices and everything that runs' {
            $results['the CPU can run hardware-accelerated guests (vmx/svm/sie, KVM module, /dev/kvm)'] | Should -Be 'Ignored'
            $results['no host device, cgroup or IOMMU check fails'] | Should -Be 'Ignored'
            $results['libvirt answers on qemu:///system'] | Should -Be 'Ignored'
            $results['IPv4 forwarding is on in the running kernel'] | Should -Be 'Ignored'
            $results['bridge br0 is up with at least one port'] | Should -Be 'Ignored'
            $results['(output)'] | Should -Match 'the CPU can run hardware-accelerated guests \(vmx/svm/sie, KVM module, /dev/kvm\) is skipped, because -Root \S+ is not the running system'
            $results['(output)'] | Should -Match 'libvirt answers on qemu:///system is skipped, because -Root \S+ is not the running system'
        }
    }

    Context 'on this machine (with or without KVM)' {
        BeforeAll { $results = Invoke-ComplianceSuite @{ BridgeName = '' } }

        It 'answers the CPU requirement the way Test-KvmCpuSupport does' {
            $expected = if ((Test-KvmCpuSupport).Supported) { 'Success' } else { 'Failure' }
            $results['the CPU can run hardware-accelerated guests (vmx/svm/sie, KVM module, /dev/kvm)'] | Should -Be $expected
        }

        It 'checks the runtime requirements instead of skipping them' {
            $results['libvirt answers on qemu:///system'] | Should -BeIn 'Success', 'Failure'
            $results['IPv4 forwarding is on in the running kernel'] | Should -BeIn 'Success', 'Failure'
        }
    }
}
