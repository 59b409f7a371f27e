BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
}

Describe 'Test-KvmHost' {
    Context 'on an offline root' {
        BeforeAll {
            $root = New-ScratchRoot -Fixtures @{
                'proc/cpuinfo'   = 'cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt'
                'etc/os-release' = 'os-release/rhel-9.6.os-release'
            } -Files @{
                'dev/kvm' = ''; 'dev/net/tun' = ''; 'dev/vhost-net' = ''
                'sys/module/kvm_intel/parameters/nested' = "N`n"
                'sys/fs/cgroup/cgroup.controllers' = "cpuset cpu io memory pids`n"
                'etc/sysctl.d/90-kvmhost-forwarding.conf' = "net.ipv4.ip_forward = 1`n"
            }
            $report = Test-KvmHost -Root $root -BridgeName ''
        }
        AfterAll { Remove-ScratchRoot $root }

        It 'passes the CPU, device and cgroup checks a real Intel host would pass' {
            $report.Checks | Where-Object Area -in 'Cpu', 'Devices', 'Cgroups' | Where-Object Result -eq 'Fail' | Should -BeNullOrEmpty
            ($report.Checks | Where-Object Name -eq '/dev/net/tun exists').Result | Should -Be 'Pass'
        }

        It 'names the release from the root''s os-release' {
            $report.Release | Should -Match 'Red Hat Enterprise Linux 9'
        }

        It 'fails for every KVM package of the release that the root does not have, pointing at Install-KvmPackages' {
            $packages = $report.Checks | Where-Object Area -eq 'Packages'
            $packages | Should -Not -BeNullOrEmpty
            $packages | ForEach-Object { $_.Result | Should -Be 'Fail'; $_.Hint | Should -Be 'Install-KvmPackages' }
            $report.Ready | Should -BeFalse
            $report.FailedChecks | Should -Contain 'Packages: qemu-kvm installed'
        }

        It 'reports forwarding from the drop-in without touching the kernel' {
            ($report.Checks | Where-Object Name -eq 'IPv4 forwarding at boot').Result | Should -Be 'Pass'
            $report.Checks | Where-Object Name -eq 'IPv4 forwarding now' | Should -BeNullOrEmpty
        }

        It 'fails the libvirt area with the reason when the root has no libvirt units' {
            $libvirt = $report.Checks | Where-Object Area -eq 'Libvirt'
            $libvirt.Result | Should -Be 'Fail'
            $libvirt.Detail | Should -Match 'not installed'
            $libvirt.Hint | Should -Match 'Install-KvmPackages'
        }

        It 'suggests the kernel switch of the CPU''s vendor when the IOMMU is off' {
            ($report.Checks | Where-Object Name -eq 'IOMMU enabled by kernel').Hint | Should -Match 'intel_iommu=on'
        }

        It '-Quiet gives the same verdict as a Boolean' {
            Test-KvmHost -Root $root -BridgeName '' -Quiet | Should -BeFalse
        }

        It 'shows the verdict and what needs attention in its default view' {
            $text = $report | Out-String -Width 200
            $text | Should -Match 'Ready\s+:\s+False'
            $text | Should -Match 'FAIL Packages: qemu-kvm installed'
        }
    }

    Context 'with a bridge configured offline' {
        It 'passes the bridge checks for a NetworkManager-written br0 keyfile and warns for a missing bridge' {
            $root = New-ScratchRoot -Fixtures @{
                'proc/cpuinfo'   = 'cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt'
                'etc/os-release' = 'os-release/rhel-9.6.os-release'
                'etc/NetworkManager/system-connections/br0.nmconnection' = 'keyfile/nm-writer-Test_Write_Bridge_Main.nmconnection'
            }
            try {
                & chmod 0600 (Join-Path $root 'etc/NetworkManager/system-connections/br0.nmconnection')
                $report = Test-KvmHost -Root $root
                ($report.Checks | Where-Object Name -eq 'bridge br0 configured').Result | Should -Be 'Pass'
                ($report.Checks | Where-Object Name -eq 'bridge br0 carries the host address').Result | Should -Be 'Pass'
                $report.Bridge.Addresses | Should -Contain '1.2.3.4/24'
                $missing = Test-KvmHost -Root $root -BridgeName virbr9
                ($missing.Checks | Where-Object Name -eq 'bridge virbr9 configured').Result | Should -Be 'Warn'
            } finally { Remove-ScratchRoot $root }
        }

        It 'keeps its checks as objects through remoting serialization' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/amd-epyc-7451-2s-svm.txt' }
            try {
                $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Test-KvmHost -Root $root), 1))
                $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Host.KvmHostReport'
                $copy.Checks[0].Result | Should -Not -BeNullOrEmpty
                $copy.Cpu.Checks[0].Name | Should -Not -BeNullOrEmpty
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'on this machine' {
        It 'gives a verdict even where areas cannot be read (no systemd as PID 1, a guest without vmx)' {
            $report = Test-KvmHost
            $report.Root | Should -Be '/'
            $report.Checks.Count | Should -BeGreaterThan 10
            if ($report.Failed -gt 0) { $report.Ready | Should -BeFalse }
            $report.Checks | Where-Object Area -eq 'Cpu' | Should -Not -BeNullOrEmpty
        }
    }

    Context 'bad input' {
        It 'fails with RootNotFound for a root that does not exist' {
            { Test-KvmHost -Root '/nonexistent/kvmhost' } | Should -Throw -ErrorId 'RootNotFound,KvmHost.Commands.TestKvmHostCommand'
        }
    }
}
