BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/libvirtd-ModularUnits.psm1') -Force
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

        It 'marks what only a running system has NotApplicable, one line per area, instead of failing it' {
            foreach ($area in 'Cpu', 'Devices', 'Cgroups', 'Iommu', 'SecureGuest') {
                $lines = @($report.Checks | Where-Object Area -eq $area)
                $lines.Count | Should -Be 1 -Because "the $area area of an image is one NotApplicable line"
                "$($lines[0].Result)" | Should -Be 'NotApplicable'
                $lines[0].Detail | Should -Match 'is not the running system'
            }
            ($report.Checks | Where-Object Name -eq 'IPv4 forwarding now').Result | Should -Be 'NotApplicable'
            ($report.Checks | Where-Object Area -eq 'Guests').Result | Should -Be 'NotApplicable' -Because 'guests live in a running libvirt'
            $report.NotApplicable | Should -Be 7
            $report.Cpu | Should -BeNullOrEmpty -Because 'a cpuinfo file in an image is not the CPU that will run it'
        }

        It 'fails only on what the image itself lacks' {
            $failed = @($report.Checks | Where-Object Result -eq 'Fail')
            $failed.Area | Select-Object -Unique | Should -Be 'Packages', 'Libvirt'
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
        }

        It 'fails the libvirt area with the reason when the root has no libvirt units' {
            $libvirt = $report.Checks | Where-Object Area -eq 'Libvirt'
            $libvirt.Result | Should -Be 'Fail'
            $libvirt.Detail | Should -Match 'not installed'
            $libvirt.Hint | Should -Match 'Install-KvmPackages'
        }

        It '-Quiet gives the same verdict as a Boolean' {
            Test-KvmHost -Root $root -BridgeName '' -Quiet | Should -BeFalse
        }

        It 'shows the verdict and what needs attention in its default view' {
            $text = $report | Out-String -Width 200
            $text | Should -Match 'Ready\s+:\s+False'
            $text | Should -Match 'FAIL Packages: qemu-kvm installed'
            $text | Should -Match 'Summary\s+: \d+ passed, \d+ warnings, \d+ failed, 7 not applicable offline'
        }

        It 'lists its checks in a table with an Area column, one line per check where it fits 120 columns' {
            $lines = @(($report.Checks | Out-String -Width 120) -split "`n" | ForEach-Object TrimEnd | Where-Object { $_ })
            $lines[0] | Should -Match '^Result\s+Area\s+Name\s+Detail$'
            # Result, Area and Name take 6 + 11 + 31 columns and three gaps: the detail has the other 69.
            $fitting = @($report.Checks | Where-Object { $_.Detail.Length -le 69 -and $_.Name.Length -le 31 })
            $fitting.Count | Should -BeGreaterThan 5
            foreach ($check in $fitting) {
                $result = if ("$($check.Result)" -eq 'NotApplicable') { 'N/A' } else { "$($check.Result)".ToUpperInvariant() }
                $row = '{0,-6} {1,-11} {2,-31} {3}' -f $result, $check.Area, $check.Name, $check.Detail
                $lines | Should -Contain $row.TrimEnd()
            }
        }
    }

    Context 'on an image the pipeline prepared offline' {
        It 'is Ready: packages, libvirt units and forwarding in the image pass, and nothing of its runtime fails' {
            $noRepo = Test-StubRepoSupported
            if ($noRepo) { Set-ItResult -Skipped -Because $noRepo; return }
            $stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-pester-image-stubs-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
            $units = @{}
            foreach ($unit in (Get-ModularLibvirtUnitFiles).GetEnumerator()) { $units['usr/lib/systemd/system/' + (Split-Path $unit.Key -Leaf)] = $unit.Value }
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } -Files $units -Directories 'etc/systemd/system', 'etc/sysctl.d', 'etc/yum.repos.d'
            try {
                $repo = New-StubRepo -Path $stubs -Profile rhel9
                [IO.File]::WriteAllText("$root/etc/yum.repos.d/kvmhost-stub.repo", (Get-StubRepoDefinition $repo))
                $libvirt = Install-KvmPackages -Root $root | Enable-Libvirtd -Root $root
                $libvirt.Mode | Should -Be 'Modular'
                $null = Set-IpForwarding -Root $root

                $report = Test-KvmHost -Root $root -BridgeName ''
                $report.Failed | Should -Be 0 -Because (($report.Checks | Where-Object Result -eq 'Fail' | ForEach-Object { "$($_.Area): $($_.Name): $($_.Detail)" }) -join '; ')
                $report.Ready | Should -BeTrue
                $report.NotApplicable | Should -Be 8 -Because 'five runtime areas, libvirt answering, forwarding now and the guests'
                @($report.Checks | Where-Object Area -eq 'Packages' | Where-Object Result -eq 'Pass').Count | Should -Be 6
            } finally {
                Remove-ScratchRoot $root
                if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
            }
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
            $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Test-KvmHost -BridgeName ''), 1))
            $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Host.KvmHostReport'
            $copy.Checks[0].Result | Should -Not -BeNullOrEmpty
            $copy.Cpu.Checks[0].Name | Should -Not -BeNullOrEmpty
        }
    }

    Context 'on this machine (with or without /dev/kvm and KVM modules)' {
        BeforeAll { $report = Test-KvmHost }

        It 'gives a verdict even where areas cannot be read (no systemd as PID 1, a guest without vmx)' {
            $report.Root | Should -Be '/'
            $report.Checks.Count | Should -BeGreaterThan 10
            if ($report.Failed -gt 0) { $report.Ready | Should -BeFalse }
            $report.Checks | Where-Object Area -eq 'Cpu' | Should -Not -BeNullOrEmpty
            $report.NotApplicable | Should -Be 0 -Because 'every check applies to the running system'
        }

        It 'shows exactly Test-KvmCpuSupport''s checks, hints included, in its Cpu area' {
            $cpu = Test-KvmCpuSupport
            $mine = @($report.Checks | Where-Object Area -eq 'Cpu' | ForEach-Object { "$($_.Name)|$($_.Result)|$($_.Detail)|$($_.Hint)" })
            $mine | Should -Be @($cpu.Checks | ForEach-Object { "$($_.Name)|$($_.Result)|$($_.Detail)|$($_.Hint)" })
            "$($report.Cpu.Status)" | Should -Be "$($cpu.Status)"
        }

        It 'gives the IOMMU hint of this machine''s release' {
            $hint = ($report.Checks | Where-Object Name -eq 'IOMMU enabled by kernel').Hint
            if ($hint -and $hint -match 'iommu=pt') {
                $debian = (Get-Content /etc/os-release -Raw) -match '(?m)^ID(_LIKE)?=.*\b(debian|ubuntu)\b'
                if ($debian) { $hint | Should -Match 'update-grub'; $hint | Should -Not -Match 'grubby' }
                else { $hint | Should -Match 'grubby' }
            }
        }
    }

    Context 'bad input' {
        It 'fails with RootNotFound for a root that does not exist' {
            { Test-KvmHost -Root '/nonexistent/kvmhost' } | Should -Throw -ErrorId 'RootNotFound,KvmHost.Commands.TestKvmHostCommand'
        }
    }
}
