<#
    The documented setup as one pipeline, end to end, in one throw-away systemd box dressed as RHEL 9:
    Test-KvmCpuSupport | Install-KvmPackages | Enable-Libvirtd against the real dnf/rpm (stub repository
    with RHEL's package names) and systemd (libvirt's modular units, Debian's libvirtd behind them), then
    Set-IpForwarding and Test-KvmHost on the box's own kernel view. A box has no /dev/kvm (whether this
    machine has one or not), so the pipeline must stop unless -Force. Plus: every output type survives
    remoting serialization.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    $script:noBox = Test-StubRepoSupported
    if (-not $script:noBox) { $script:noBox = Test-TestBoxSupported }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/libvirtd-ModularUnits.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force

    function ConvertTo-RemotingCopy($InputObject) {
        # What Invoke-Command hands back: the serializer at remoting's default depth (1), which a type's
        # SerializationDepth in the module's types file raises.
        [System.Management.Automation.PSSerializer]::Deserialize(
            [System.Management.Automation.PSSerializer]::Serialize($InputObject, 1))
    }

    function Invoke-PipelineInBox {
        # One pwsh in the box runs $Script; it returns what the script emits as JSON.
        param([string] $Name, [string] $Script)
        $prelude = "`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; Import-Module '$(Get-KvmHostModulePath)'; "
        $command = @('env', 'NO_COLOR=1', 'TERM=dumb') + @(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-Command', $prelude + $Script)
        $result = Invoke-TestBox -Name $Name -Command $command -AllowFailure -TimeoutSec 240
        if ($result.ExitCode -ne 0) { throw "pwsh in box $Name exited $($result.ExitCode): $($result.StdErr)$($result.StdOut)" }
        $result.StdOut | ConvertFrom-Json
    }

    function Get-BoxUnitState([string] $Name, [string] $Verb, [string[]] $Unit) {
        @((Invoke-TestBox -Name $Name -Command (@('systemctl', $Verb, '--') + $Unit) -AllowFailure).StdOut.Trim() -split "`n")
    }

    # The whole setup as a user types it; each step's objects reduced to what the assertions read.
    $script:pipeline = @'
$packages = @(Test-KvmCpuSupport | Install-KvmPackages -Force)
$libvirt = $packages | Enable-Libvirtd
$forwarding = @(Set-IpForwarding)
$report = Test-KvmHost -BridgeName ''
[pscustomobject]@{
    Packages   = @($packages | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Status = "$($_.Status)"; Changed = $_.Changed } })
    Libvirt    = $libvirt | Select-Object @{ n = 'Mode'; e = { "$($_.Mode)" } }, Changed, Active, Enabled, Reachable, ProbeDetail
    Forwarding = @($forwarding | Select-Object Key, RuntimeValue, PersistentValue, Changed, RuntimeApplied, ConfigurationFile)
    Checks     = @($report.Checks | ForEach-Object { [pscustomobject]@{ Area = $_.Area; Name = $_.Name; Result = "$($_.Result)"; Detail = $_.Detail } })
} | ConvertTo-Json -Depth 4
'@
}

Describe 'Remoting serialization of every output type' -Tag 'Pipeline' {
    BeforeAll {
        $root = New-ScratchRoot -Fixtures @{
            'proc/cpuinfo'   = 'cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt'
            'etc/os-release' = 'os-release/rhel-9.6.os-release'
        } -Files @{
            'usr/lib/systemd/system/libvirtd.service' = "[Service]`nExecStart=/usr/sbin/libvirtd`n[Install]`nWantedBy=multi-user.target`n"
            'usr/lib/systemd/system/libvirtd.socket'  = "[Socket]`nListenStream=/run/libvirt/libvirt-sock`n[Install]`nWantedBy=sockets.target`n"
        } -Directories 'etc/systemd/system', 'etc/sysctl.d'
        $objects = @{
            Cpu        = Test-KvmCpuSupport -Root $root
            Package    = [KvmHost.Core.Packages.KvmPackageResult]@{ Name = 'libvirt'; Version = '10.10.0-7.el9'; Status = 'Installed'; Changed = $true; PackageManager = 'dnf' }
            Libvirt    = Get-Libvirtd -Root $root
            Forwarding = @(Set-IpForwarding -Root $root -WhatIf)[0]
            Report     = Test-KvmHost -Root $root -BridgeName ''
            LiveReport = Test-KvmHost -BridgeName ''
        }
        $copies = @{}
        foreach ($entry in $objects.GetEnumerator()) { $copies[$entry.Key] = ConvertTo-RemotingCopy $entry.Value }
    }
    AfterAll { Remove-ScratchRoot $root }

    It 'keeps the type name of <Key> as Deserialized.<type>' -ForEach @(
        @{ Key = 'Cpu' }, @{ Key = 'Package' }, @{ Key = 'Libvirt' }, @{ Key = 'Forwarding' }, @{ Key = 'Report' }, @{ Key = 'LiveReport' }
    ) {
        $copies[$Key].PSObject.TypeNames[0] | Should -Be "Deserialized.$($objects[$Key].GetType().FullName)"
    }

    It 'keeps each CPU check as an object with its name and result' {
        $copies.Cpu.Checks[0].Name | Should -Be $objects.Cpu.Checks[0].Name
        $copies.Cpu.Checks[0].Result | Should -Be "$($objects.Cpu.Checks[0].Result)"
        $copies.Cpu.Supported | Should -Be $objects.Cpu.Supported
        $copies.Cpu.Status | Should -Be "$($objects.Cpu.Status)" -Because 'a remote caller compares the status by its name'
    }

    It 'keeps the package''s name, status and Changed' {
        $copies.Package.Name | Should -Be 'libvirt'
        $copies.Package.Status | Should -Be 'Installed'
        $copies.Package.Changed | Should -BeTrue
    }

    It 'keeps each libvirt unit as an object with its state' {
        @($copies.Libvirt.Units).Count | Should -Be @($objects.Libvirt.Units).Count
        $copies.Libvirt.Units[0].Name | Should -Be 'libvirtd.service'
        $copies.Libvirt.Units[0].UnitFileState | Should -Be $objects.Libvirt.Units[0].UnitFileState
        $copies.Libvirt.Mode | Should -Be 'Monolithic'
    }

    It 'keeps the forwarding plan as text lines' {
        $objects.Forwarding.PlannedChanges | Should -Not -BeNullOrEmpty
        @($copies.Forwarding.PlannedChanges) | Should -Be @($objects.Forwarding.PlannedChanges)
        $copies.Forwarding.Key | Should -Be 'net.ipv4.ip_forward'
    }

    It 'keeps every check of the host report with its result and hint, and the nested CPU checks' {
        @($copies.Report.Checks).Count | Should -Be $objects.Report.Checks.Count
        $copies.Report.Checks[0].Result | Should -Be "$($objects.Report.Checks[0].Result)"
        @($copies.Report.Checks.Hint) | Should -Be @($objects.Report.Checks.Hint)
        @($copies.Report.FailedChecks) | Should -Be @($objects.Report.FailedChecks)
        $copies.Report.NotApplicable | Should -Be $objects.Report.NotApplicable
        $copies.Report.Libvirt.Units[0].Name | Should -Be 'libvirtd.service'
        $copies.Report.Packages[0].Status | Should -Be "$($objects.Report.Packages[0].Status)"
        $objects.LiveReport.Cpu | Should -Not -BeNullOrEmpty -Because 'the running system has a CPU to report'
        $copies.LiveReport.Cpu.Checks[0].Name | Should -Be $objects.LiveReport.Cpu.Checks[0].Name
        $copies.LiveReport.Cpu.Status | Should -Be "$($objects.LiveReport.Cpu.Status)"
        $copies.LiveReport.Cpu.Acceleration | Should -Be "$($objects.LiveReport.Cpu.Acceleration)"
        $copies.Report.Forwarding[0].AddressFamily | Should -Be 'IPv4'
        $copies.Report.Libvirt.Mode | Should -Be 'Monolithic'
    }

    It 'has a default view for <TypeName> and its deserialized form' -ForEach @(
        'KvmHost.Core.Cpu.KvmCpuSupport', 'KvmHost.Core.Packages.KvmPackage', 'KvmHost.Core.Packages.KvmPackageResult',
        'KvmHost.Core.Services.LibvirtdState', 'KvmHost.Core.Services.LibvirtdResult', 'KvmHost.Core.Sysctl.IpForwardingState',
        'KvmHost.Core.Sysctl.IpForwardingResult', 'KvmHost.Core.Host.KvmHostReport', 'KvmHost.Core.HostCheck'
    ).ForEach({ @{ TypeName = $_ } }) {
        Get-FormatData -TypeName $TypeName | Should -Not -BeNullOrEmpty
        Get-FormatData -TypeName "Deserialized.$TypeName" | Should -Not -BeNullOrEmpty
    }

    It 'shows a deserialized object like the live one' {
        ($copies.Libvirt | Out-String -Width 100) | Should -Be ($objects.Libvirt | Out-String -Width 100)
        ($copies.Package | Format-Table | Out-String -Width 100) | Should -Be ($objects.Package | Format-Table | Out-String -Width 100)
    }
}

Describe 'New-HostBridge | Set-IpForwarding on a RHEL 9 image' -Tag 'Pipeline' {
    BeforeAll {
        $nic = "[connection]`nid=enp1s0`nuuid=9342d47a-1bab-5709-9869-c840b2eac501`ntype=ethernet`ninterface-name=enp1s0`n`n[ethernet]`nmac-address=52:54:00:12:34:56`n`n[ipv4]`naddress1=192.168.122.10/24`ndns=192.168.122.1;`ngateway=192.168.122.1`nmethod=manual`n`n[ipv6]`nmethod=auto`n"
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } `
            -Files @{ 'etc/NetworkManager/system-connections/enp1s0.nmconnection' = $nic } -Directories 'etc/sysctl.d', 'run/lock'
        [IO.File]::SetUnixFileMode((Join-Path $root 'etc/NetworkManager/system-connections/enp1s0.nmconnection'), 'UserRead, UserWrite')
        # The interface comes from the pipeline by property name, and the bridge goes on into Set-IpForwarding.
        $bridge = [pscustomobject]@{ Interface = 'enp1s0' } | New-HostBridge br0 -Root $root
        $forwarding = @($bridge | Set-IpForwarding -AddressFamily Both -Root $root)
    }
    AfterAll { Remove-ScratchRoot $root }

    It 'writes the bridge with the NIC''s address, then both forwarding keys in one drop-in' {
        $bridge.Name | Should -Be 'br0'
        $bridge.Ports | Should -Be 'enp1s0'
        $bridge.Addresses | Should -Contain '192.168.122.10/24'
        $bridge.Changed | Should -BeTrue
        @($forwarding.Key) | Should -Be 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'
        @($forwarding.Changed) | Should -Be $true, $true
        Get-Content -Raw (Join-Path $root 'etc/sysctl.d/90-kvmhost-forwarding.conf') | Should -Match '(?m)^net\.ipv6\.conf\.all\.forwarding = 1$'
    }

    It 'binds the bridge''s Name to -Uplink: a name that cannot be an interface is refused as the uplink' {
        { [pscustomobject]@{ Name = '../eth0' } | Set-IpForwarding -AddressFamily IPv6 -Root $root -WhatIf } |
            Should -Throw -ErrorId 'ForwardingUplinkInvalid,KvmHost.Commands.SetIpForwardingCommand'
    }

    It 'a second run changes nothing' {
        $again = [pscustomobject]@{ Interface = 'enp1s0' } | New-HostBridge br0 -Root $root
        $again.Changed | Should -BeFalse
        @($again | Set-IpForwarding -AddressFamily Both -Root $root).Changed | Should -Be $false, $false
    }

    It 'keeps the bridge''s addresses, probes and file changes through remoting' {
        $copy = ConvertTo-RemotingCopy $bridge
        $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Bridge.HostBridgeResult'
        @($copy.Addresses) | Should -Be @($bridge.Addresses)
        $bridge.FileChanges | Should -Not -BeNullOrEmpty
        $copy.FileChanges[0].Path | Should -Be $bridge.FileChanges[0].Path
        $copy.FileChanges[0].Changed | Should -BeTrue
        Get-FormatData -TypeName 'Deserialized.KvmHost.Core.Bridge.HostBridgeResult' | Should -Not -BeNullOrEmpty
    }
}

Describe "Test-KvmCpuSupport | Install-KvmPackages | Enable-Libvirtd, Set-IpForwarding, Test-KvmHost in a RHEL 9 systemd box$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Tag 'Pipeline' -Skip:([bool] $script:noBox) {
    BeforeAll {
        $stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-pester-pipeline-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $repo = New-StubRepo -Path (Join-Path $stubs 'rhel9') -Profile rhel9
        $content = Get-ModularLibvirtUnitFiles
        $content['/etc/yum.repos.d/kvmhost-stub.repo'] = Get-StubRepoDefinition '/srv/kvmhost-stub'
        $boxName = "kvmh-pipe-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
        $null = Start-TestBox -Name $boxName -OsRelease (Get-FixturePath 'os-release/rhel-9.6.os-release') `
            -Bind @{ '/srv/kvmhost-stub' = $repo } -Content $content
        # A fresh RHEL 9 host: no libvirt daemon enabled or running yet (the overlay brings Debian's enabled libvirtd).
        $monolithic = 'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket'
        $null = Invoke-TestBox -Name $boxName -Command (@('systemctl', 'disable', '--now', '--') + $monolithic)
        $modularSockets = 'virtqemud.socket', 'virtqemud-ro.socket', 'virtnetworkd.socket'
    }
    AfterAll {
        Stop-TestBox -Name $boxName
        if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
    }

    It 'stops at Install-KvmPackages with CpuNotSupported in a box without /dev/kvm: nothing installed, systemd untouched' {
        $run = Invoke-PipelineInBox -Name $boxName -Script @'
$cpu = Test-KvmCpuSupport
$errorId = $null
try { $null = $cpu | Install-KvmPackages | Enable-Libvirtd } catch { $errorId = $_.FullyQualifiedErrorId }
[pscustomobject]@{ Supported = $cpu.Supported; ErrorId = $errorId } | ConvertTo-Json
'@
        $run.Supported | Should -BeFalse -Because 'a box has no /dev/kvm, whatever this machine has'
        $run.ErrorId | Should -Be 'CpuNotSupported,KvmHost.Commands.InstallKvmPackagesCommand'
        (Invoke-TestBox -Name $boxName -Command rpm, -qa -AllowFailure).StdOut | Should -Not -Match 'qemu-kvm|libvirt'
        Get-BoxUnitState $boxName is-enabled ($modularSockets + $monolithic) | Should -Not -Contain 'enabled'
        Get-BoxUnitState $boxName is-active ($modularSockets + $monolithic) | Should -Not -Contain 'active'
    }

    It 'with -Force installs the RHEL 9 set, starts the modular daemons that answer, turns forwarding on, and Test-KvmHost passes those steps' {
        $run = Invoke-PipelineInBox -Name $boxName -Script $pipeline

        @($run.Packages.Name) | Should -Be 'qemu-kvm', 'qemu-img', 'libvirt', 'python3-libvirt', 'guestfs-tools', 'virt-install'
        @($run.Packages.Status) | Should -Be (@('Installed') * 6)
        $rpm = Invoke-TestBox -Name $boxName -Command rpm, -q, --qf, '%{NAME}\n', qemu-kvm, libvirt, python3-libvirt, virt-install -AllowFailure
        $rpm.ExitCode | Should -Be 0 -Because $rpm.StdOut

        $run.Libvirt.Mode | Should -Be 'Modular'
        $run.Libvirt.Changed | Should -BeTrue
        $run.Libvirt.Reachable | Should -BeTrue -Because $run.Libvirt.ProbeDetail
        $virsh = Invoke-TestBox -Name $boxName -Command virsh, --readonly, -c, 'qemu:///system', version -AllowFailure -TimeoutSec 60
        $virsh.StdOut | Should -Match 'Running hypervisor' -Because 'a real libvirt answers on qemu:///system'

        $run.Forwarding[0].Key | Should -Be 'net.ipv4.ip_forward'
        $run.Forwarding[0].Changed | Should -BeTrue
        $run.Forwarding[0].RuntimeApplied | Should -BeTrue
        (Invoke-TestBox -Name $boxName -Command cat, /proc/sys/net/ipv4/ip_forward).StdOut.Trim() | Should -Be '1'
        (Invoke-TestBox -Name $boxName -Command cat, $run.Forwarding[0].ConfigurationFile).StdOut | Should -Match 'net\.ipv4\.ip_forward\s*=\s*1'

        $steps = @($run.Checks | Where-Object Area -in 'Packages', 'Libvirt', 'Forwarding')
        $steps.Area | Select-Object -Unique | Should -Be 'Packages', 'Libvirt', 'Forwarding'
        $steps | Where-Object Result -ne 'Pass' | ForEach-Object { "$($_.Area): $($_.Name) = $($_.Result) ($($_.Detail))" } |
            Should -BeNullOrEmpty
        ($run.Checks | Where-Object Area -eq 'Cpu' | Where-Object Result -eq 'Fail') | Should -Not -BeNullOrEmpty -Because 'a box still has no /dev/kvm'
    }

    It 'a second run of the whole pipeline changes nothing and says so everywhere' {
        $run = Invoke-PipelineInBox -Name $boxName -Script $pipeline
        @($run.Packages.Status) | Should -Be (@('AlreadyInstalled') * 6)
        @($run.Packages.Changed) | Should -Be (@($false) * 6)
        $run.Libvirt.Changed | Should -BeFalse
        $run.Libvirt.Reachable | Should -BeTrue
        @($run.Forwarding.Changed) | Should -Not -Contain $true
    }
}

Describe 'The README demo (build.ps1 -Task Demo)' -Tag 'Pipeline' {
    It 'shows every step''s objects in their default views, leaves nothing behind, and ends with Test-KvmHost here' {
        $demo = Join-Path $PSScriptRoot '../demo/Invoke-KvmHostDemo.ps1'
        $before = @(Get-ChildItem ([IO.Path]::GetTempPath()) -Filter 'kvmhost-demo-*' -Directory).Count
        $pwsh = @(Get-PwshInvocation)
        $env:NO_COLOR = '1'
        try {
            $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $demo -ModulePath (Get-KvmHostModulePath) `
                -OsRelease (Get-FixturePath 'os-release/rhel-9.6.os-release') *>&1 | Out-String -Width 200
        } finally { Remove-Item Env:NO_COLOR }
        $LASTEXITCODE | Should -Be 0 -Because $output
        $output | Should -Match 'PS> \$cpu = Test-KvmCpuSupport[\s\S]+Supported\s+:'
        if (Get-Command rpm -CommandType Application -ErrorAction Ignore) {
            $output | Should -Match '(?m)^libvirt\s+Missing\s+False\s+WhatIf: would install' -Because 'the packages show in their table view, as they are, with what -WhatIf would do'
        } else {
            $output | Should -Match 'Skipped here: .*rpm'
        }
        $output | Should -Match 'PS> Enable-Libvirtd -Root \$image\s+Mode\s+: Monolithic[\s\S]+Changed\s+: True'
        $output | Should -Match 'PS> \$bridge = New-HostBridge br0[^\n]*\s+Name\s+: br0[\s\S]+Addresses\s+: 192\.168\.122\.10/24'
        $output | Should -Match 'AddressFamily\s+: IPv6[\s\S]+Changed\s+: True'
        # The guest step previews as a fresh host does: the virt-install command with the image's bridge, and its preview
        # object, whose blockers name the bridge that is only in the image (and libvirt, where no daemon answers).
        $guestStep = [regex]::Match($output, 'PS> \$bridge \| New-KvmGuest -Name vm01[^\n]*-WhatIf[\s\S]*?(?=PS> )').Value
        $guestStep | Should -Match 'What if: Create guest ''vm01'' on [^\n]+ with: virt-install --connect [^\n]*--network ''bridge="br0"'' --graphics none'
        $guestStep | Should -Match 'WhatIf\s+: True[\s\S]*Blockers\s+: \S'
        if (-not (Test-Path /sys/class/net/br0/bridge)) {
            $guestStep | Should -Match 'A real run would stop now:[\s\S]*There is no bridge ''br0'' on this host yet: the piped bridge is in /'
        }
        $guestStep | Should -Not -Match 'Skipped here'
        $output | Should -Match 'PS> Test-KvmHost -Root \$image[^\n]*\s+Ready\s+: False[\s\S]+?Summary\s+: \d+ passed, \d+ warnings, \d+ failed, \d+ not applicable offline'
        $output | Should -Match 'PS> Test-KvmHost  [^\n]*\s+Ready\s+: (True|False)'
        $viewLines = @($output -split '\r?\n' | Where-Object { $_ -match '^Attention\s+: FAIL Packages: ' })
        $viewLines | Should -Not -BeNullOrEmpty
        $viewLines | ForEach-Object { $_.TrimEnd().Length | Should -BeGreaterThan 80 -Because "the views are laid out for 120 columns, not the 80 pwsh assumes for piped output: $_" }
        @(Get-ChildItem ([IO.Path]::GetTempPath()) -Filter 'kvmhost-demo-*' -Directory).Count | Should -Be $before
    }
}
