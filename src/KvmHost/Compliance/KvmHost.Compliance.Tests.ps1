<#
.SYNOPSIS
    The desired state of a KVM host as Pester 5 requirements, shipped with the KvmHost module.
.DESCRIPTION
    Each It is one requirement an auditor can read. Run it with Pester's own configuration so the
    report is NUnit XML (or JUnit), for example:

        $suite  = Join-Path (Get-Module KvmHost -ListAvailable)[0].ModuleBase 'Compliance/KvmHost.Compliance.Tests.ps1'
        $config = New-PesterConfiguration
        $config.Run.Container = New-PesterContainer -Path $suite -Data @{ BridgeName = 'br0'; BridgeAddress = '192.0.2.10/24' }
        $config.TestResult.Enabled = $true
        $config.TestResult.OutputPath = 'kvmhost-compliance.xml'
        $config.Output.Verbosity = 'Detailed'
        Invoke-Pester -Configuration $config

    Parameters (all optional): BridgeName (default br0; '' for hosts without a bridge), BridgeAddress
    (a CIDR the bridge must carry), RequireForwarding (default $true), Root (default '/': an offline
    root, a mounted image, skips what only a running system has (the CPU and devices, the daemon
    answering, forwarding now, the bridge up) and says so in each skipped requirement).
    A skipped requirement says why in Pester's output ("is skipped, because ...").

#>
param(
    [string] $BridgeName = 'br0',
    [string] $BridgeAddress,
    [bool] $RequireForwarding = $true,
    [string] $Root = '/'
)

BeforeDiscovery {
    # The package list is the release's own, so each package becomes its own requirement.
    Import-Module KvmHost -ErrorAction Stop
    $packages = @(Get-KvmPackages -Root $Root -ErrorAction SilentlyContinue | ForEach-Object { @{ Package = $_.Name } })
    $live = $Root -eq '/'
}

BeforeAll {
    Import-Module KvmHost -ErrorAction Stop
    $live = $Root -eq '/'
    $offline = "-Root $Root is not the running system"
}

Describe "KVM host compliance (root $Root)" {
    Context 'CPU and devices' {
        It 'the CPU can run hardware-accelerated guests (vmx/svm/sie, KVM module, /dev/kvm)' {
            if (-not $live) { Set-ItResult -Skipped -Because "$offline`: the CPU is the one of the machine that boots it"; return }
            $cpu = Test-KvmCpuSupport
            $cpu.Supported | Should -BeTrue -Because "$($cpu.Status): $($cpu.Reason) $($cpu.Hint)"
        }

        It 'no host device, cgroup or IOMMU check fails' {
            if (-not $live) { Set-ItResult -Skipped -Because "$offline`: devices, cgroups and the IOMMU exist only there"; return }
            $failed = (Test-KvmHost -BridgeName '').Checks |
                Where-Object { $_.Area -in 'Devices', 'Cgroups', 'Iommu', 'SecureGuest' -and $_.Result -eq 'Fail' }
            $failed | Should -BeNullOrEmpty -Because (($failed | ForEach-Object { "$($_.Name): $($_.Detail)" }) -join '; ')
        }
    }

    Context 'Packages' {
        It 'package <Package> is installed' -ForEach $packages {
            $state = Get-KvmPackages -Root $Root -Name $Package -NoDefaultPackages
            "$($state.Status)" | Should -Be 'AlreadyInstalled' -Because 'Install-KvmPackages installs it'
        }
    }

    Context 'libvirt' {
        It 'the libvirt daemons are enabled at boot' {
            $state = Get-Libvirtd -Root $Root
            $state.Enabled | Should -BeTrue -Because (($state.Units | ForEach-Object { "$($_.Name)=$($_.UnitFileState)" }) -join ', ')
        }

        It 'libvirt answers on qemu:///system' {
            if (-not $live) { Set-ItResult -Skipped -Because "$offline`: a daemon answers only on a running system"; return }
            $state = Get-Libvirtd
            $state.Reachable | Should -BeTrue -Because "$($state.Endpoint): $($state.ProbeDetail)"
        }
    }

    Context "Bridge$(if (-not $BridgeName) { ' (skipped: -BridgeName is empty, a host without a bridge)' })" -Skip:(-not $BridgeName) {
        # Names are interpolated at discovery: Pester leaves <templates> unexpanded in skipped tests.
        It "bridge $BridgeName is configured to come up at boot" {
            $bridge = Get-HostBridge -Root $Root -Name $BridgeName -ErrorAction SilentlyContinue
            $bridge | Should -Not -BeNullOrEmpty -Because 'New-HostBridge creates it'
            $bridge.ConfigurationFiles | Should -Not -BeNullOrEmpty
        }

        It "bridge $BridgeName is up with at least one port" {
            if (-not $live) { Set-ItResult -Skipped -Because "$offline`: links are up only on a running system"; return }
            $bridge = Get-HostBridge -Name $BridgeName -ErrorAction SilentlyContinue
            $bridge.Active | Should -BeTrue
            $bridge.Ports | Should -Not -BeNullOrEmpty
        }

        It "bridge $BridgeName carries the host address $BridgeAddress" {
            if (-not $BridgeAddress) { Set-ItResult -Skipped -Because 'no -BridgeAddress was given'; return }
            (Get-HostBridge -Root $Root -Name $BridgeName -ErrorAction SilentlyContinue).Addresses | Should -Contain $BridgeAddress
        }
    }

    Context "Forwarding$(if (-not $RequireForwarding) { ' (skipped: -RequireForwarding is $false)' })" -Skip:(-not $RequireForwarding) {
        It 'IPv4 forwarding wins at boot (no later sysctl file overrides it)' {
            $state = Get-IpForwarding -AddressFamily IPv4 -Root $Root
            $state.PersistentValue | Should -Be 1 -Because "boot applies the value from $($state.EffectiveFile)"
            $state.Overridden | Should -BeFalse
        }

        It 'IPv4 forwarding is on in the running kernel' {
            if (-not $live) { Set-ItResult -Skipped -Because "$offline`: only a running kernel forwards"; return }
            (Get-IpForwarding -AddressFamily IPv4).RuntimeValue | Should -Be 1
        }
    }
}
