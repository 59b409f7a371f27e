<#
    The procedure end to end in ONE place: a throw-away systemd box dressed as RHEL 9, and one pwsh inside it runs
    what the README tells an admin to run, against the real parts:
        Test-KvmCpuSupport | Install-KvmPackages -Force | Enable-Libvirtd     (dnf/rpm with a stub repository of
                                                                              RHEL's names; systemd with libvirt's
                                                                              modular units)
        New-HostBridge br0 -Interface enp1s0 | New-KvmGuest vm01 ...          (the box's real NetworkManager; a
                                                                              real QEMU guest under TCG)
        Get-KvmGuest vm01 (its adapter on br0), Stop-KvmGuest, Remove-KvmGuest -DeleteStorage
    and then nothing is left: no domain, no volume file, no QEMU process, no cgroup directory anywhere under this
    machine's /sys/fs/cgroup, no network namespace, no mount.

    What makes a QEMU guest safe in a box (tests/harness/SystemdBox.psm1, Start-ProcedureBox below):
    - qemu.conf `cgroup_controllers = [ ]`: libvirt's own cgroup setup (virCgroupNewMachineManual) asks for no
      controller, so it makes no directory in the v1 controller trees, which a box shares with this machine.
    - No systemd-machined: libvirt registers every guest with machined whatever cgroup_controllers says
      (virCgroupNewMachine tries virCgroupNewMachineSystemd first), and systemd would then make a scope with
      delegated controllers, in this machine's trees. The box masks the unit and has no D-Bus activation file
      for org.freedesktop.machine1, so libvirt finds machined "not supported" and stays in the manual path.
    - security_driver "none": no AppArmor profile loaded into this machine's kernel.
    - The NIC is one end of a veth pair made inside namespaces the test owns (the box's and a "gateway" namespace
      holding 192.0.2.1); this machine's own network namespace never sees it.
    Both kinds of CI machine run it: with this machine's /dev/kvm bound into the box where there is one (a PVM
    kernel's verdict says ordinary guests need TCG), and a box without /dev/kvm (the verdict is "not supported").
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    $script:noProcedure = Test-StubRepoSupported
    if (-not $noProcedure) { $noProcedure = Test-TestBoxSupported }
    # The guest lab's needs are the guest's: libvirtd, QEMU, and the tools that build the tiny guest.
    if (-not $noProcedure) { $noProcedure = Test-GuestLabSupported }
    if (-not $noProcedure -and -not (Get-Command virt-install, NetworkManager, nmcli -CommandType Application -ErrorAction Ignore)) {
        $noProcedure = 'the procedure needs virt-install, NetworkManager and nmcli (Debian packages virtinst, network-manager), which are not on PATH'
    }
    $script:kinds = @(
        @{ Kind = 'with this machine''s /dev/kvm'; Device = @('kvm'); Missing = $(if (-not (Test-Path /dev/kvm)) { 'this machine has no /dev/kvm' }) }
        @{ Kind = 'without /dev/kvm'; Device = @(); Missing = $null }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/libvirtd-ModularUnits.psm1') -Force

    # Every directory under /sys/fs/cgroup. Other tests (boxes of other runs, the machine's own services) may add
    # theirs meanwhile: what counts as ours is what systemd or libvirt would name (units, slices, scopes, libvirt's
    # machine partition, a qemu-N-NAME group) and is not another box's own tree.
    function Get-CgroupDirectory {
        @(Get-ChildItem -LiteralPath /sys/fs/cgroup -Directory -Recurse -Force -ErrorAction Ignore | ForEach-Object FullName)
    }
    function Get-NewCgroupDirectory([string[]] $Before, [string] $BoxName) {
        $known = [System.Collections.Generic.HashSet[string]]::new([string[]] $Before)
        Get-CgroupDirectory | Where-Object { -not $known.Contains($_) } | Where-Object {
            $_ -notmatch '/kvmhost-box-(?<box>[^/]+)(/|$)' -or $Matches.box -eq $BoxName
        } | Where-Object { $_ -match "kvmhost-box-$([regex]::Escape($BoxName))|/payload(/|$)|\.(slice|service|scope|mount)(/|$)|/machine(/|$)|qemu|libvirt|vm01" }
    }

    function Get-MountLine([string] $BoxName) {
        @(Get-Content -LiteralPath /proc/self/mountinfo | Where-Object { $_ -match "kvmhost-box-?$([regex]::Escape($BoxName))|/run/kvmhost-test-boxes/$([regex]::Escape($BoxName))/" })
    }

    # The admin's whole procedure in one pwsh inside the box. Each step's objects are reduced to what the assertions
    # read and come back as one JSON line after a marker (warnings and progress would otherwise mix into stdout).
    $script:procedure = @'
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$steps = [ordered]@{}
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$times = [ordered]@{}
function Lap([string] $Step) { $times[$Step] = [Math]::Round($clock.Elapsed.TotalSeconds, 1); $clock.Restart() }
$cgroupsBefore = @(Get-ChildItem /sys/fs/cgroup -Directory -Recurse -ErrorAction Ignore | Where-Object FullName -notmatch '^/sys/fs/cgroup/(systemd|unified)(/|$)' | ForEach-Object FullName)
try {
    $cpu = Test-KvmCpuSupport
    $packages = @($cpu | Install-KvmPackages -Force)
    Lap 'packages'
    $libvirt = $packages | Enable-Libvirtd
    Lap 'libvirt'
    $steps.Cpu = [pscustomobject]@{ Supported = $cpu.Supported; Status = "$($cpu.Status)"; Acceleration = "$($cpu.Acceleration)" }
    $steps.Packages = @($packages | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Status = "$($_.Status)" } })
    $steps.Libvirt = [pscustomobject]@{ Mode = "$($libvirt.Mode)"; Active = $libvirt.Active; Reachable = $libvirt.Reachable; ProbeDetail = $libvirt.ProbeDetail }

    $bridge = New-HostBridge -Name br0 -Interface enp1s0 -Confirm:$false -Force
    Lap 'bridge'
    $steps.Bridge = [pscustomobject]@{ Name = $bridge.Name; Ports = @($bridge.Ports); Addresses = @($bridge.Addresses); Changed = $bridge.Changed }
    $created = $bridge | New-KvmGuest -Name vm01 -Kernel /var/lib/libvirt/boot/tiny-vmlinuz -Initrd /var/lib/libvirt/boot/tiny-initrd.gz `
        -KernelArguments 'console=ttyS0 panic=-1 kvmhost.name=vm01' -MemoryBytes 256MB -DiskSizeBytes 16MB -AllowEmulation -WarningVariable warned -WarningAction SilentlyContinue
    Lap 'guest'
    $steps.Warnings = @($warned | ForEach-Object Message)

    $guest = Get-KvmGuest vm01
    $steps.Guest = [pscustomobject]@{ Name = $guest.Name; State = "$($guest.State)"; Bridges = @($guest.NetworkAdapters | ForEach-Object Bridge); Disks = @($guest.Disks | Where-Object Device -eq 'disk' | ForEach-Object Source) }
    $steps.DomainType = ([xml] (virsh -q -c qemu:///system dumpxml vm01 | Out-String)).domain.type
    # While the guest runs: QEMU's cgroups in the v1 controller trees (shared with the machine) are the box's
    # root ('/'), and the box sees no new directory in those trees.
    $qemu = @(Get-Process -Name qemu-system-x86_64 -ErrorAction Ignore | Where-Object CommandLine -match 'guest=vm01')
    $steps.QemuProcesses = $qemu.Count
    $steps.QemuCgroups = @(foreach ($process in $qemu) { Get-Content "/proc/$($process.Id)/cgroup" })
    $steps.NewCgroupsWhileRunning = @(Get-ChildItem /sys/fs/cgroup -Directory -Recurse -ErrorAction Ignore | Where-Object FullName -notmatch '^/sys/fs/cgroup/(systemd|unified)(/|$)' | ForEach-Object FullName | Where-Object { $_ -notin $cgroupsBefore })

    # The tiny guest powers off on ACPI once its acpid runs, which it says on its console.
    $deadline = [DateTime]::UtcNow.AddSeconds(120)
    while (-not ((Get-KvmGuestConsoleLog vm01) -match '^KVMHOST-GUEST-READY') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 250 }
    Lap 'boot'
    $stopped = Stop-KvmGuest vm01 -PassThru
    Lap 'stop'
    $steps.Stopped = "$($stopped.State)"
    $removed = $stopped | Remove-KvmGuest -DeleteStorage -Force -Confirm:$false -PassThru
    $steps.Removed = [pscustomobject]@{ Removed = $removed.Removed; DeletedVolumes = @($removed.DeletedVolumes) }
    $steps.GuestsAfter = @(Get-KvmGuest | ForEach-Object Name)
    Lap 'remove'
} catch {
    $steps.Error = "$($_.FullyQualifiedErrorId): $_"
}
$steps.Seconds = [pscustomobject] $times
Write-Output ('@@PROCEDURE@@' + ([pscustomobject] $steps | ConvertTo-Json -Depth 5 -Compress))
'@
}

Describe "The procedure end to end in one RHEL 9 systemd box: host steps, bridge, guest (TCG), nothing left$(if ($noProcedure) { " (skipped: $noProcedure)" })" -Tag 'Root', 'Pipeline', 'GuestLab' -Skip:([bool] $noProcedure) -ForEach $kinds {
    BeforeAll {
        if ($Missing) { return }
        $suffix = [guid]::NewGuid().ToString('N').Substring(0, 6)
        $boxName = "kvmh-proc-$suffix"
        $peer = "kvmh-procgw-$suffix"
        $cgroupsBefore = Get-CgroupDirectory
        $hostImages = @(Get-ChildItem -LiteralPath /var/lib/libvirt/images -Force -ErrorAction Ignore | ForEach-Object Name)

        $stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-pester-procedure-$suffix"
        $repo = New-StubRepo -Path (Join-Path $stubs 'rhel9') -Profile rhel9
        $image = Get-TinyGuestImage
        # The NIC's profile as a RHEL 9 installer leaves it (static, TEST-NET-1); NetworkManager reads only 0600 keyfiles.
        $keyfile = Join-Path $stubs 'enp1s0.nmconnection'
        [IO.File]::WriteAllText($keyfile, "[connection]`nid=enp1s0`nuuid=9342d47a-1bab-5709-9869-c840b2eac501`ntype=ethernet`ninterface-name=enp1s0`n`n[ipv4]`naddress1=192.0.2.10/24`ngateway=192.0.2.1`nmethod=manual`n`n[ipv6]`nmethod=disabled`n")
        [IO.File]::SetUnixFileMode($keyfile, 'UserRead, UserWrite')

        $content = Get-ModularLibvirtUnitFiles
        $content['/etc/yum.repos.d/kvmhost-stub.repo'] = Get-StubRepoDefinition '/srv/kvmhost-stub'
        $content['/etc/libvirt/qemu.conf'] = "# KvmHost procedure box (tests/Procedure.Tests.ps1): guests leave nothing in the machine's cgroups or kernel.`ncgroup_controllers = [ ]`nsecurity_driver = `"none`"`n"
        # No DHCP profile of NetworkManager's own on the NIC, and the box's resolv.conf left alone.
        $content['/etc/NetworkManager/conf.d/90-kvmhost-procedure.conf'] = "[main]`nno-auto-default=*`ndns=none`n"
        $null = Start-TestBox -Name $boxName -OsRelease (Get-FixturePath 'os-release/rhel-9.6.os-release') -Content $content `
            -File @{
                '/etc/NetworkManager/system-connections/enp1s0.nmconnection' = $keyfile
                '/var/lib/libvirt/boot/tiny-vmlinuz'                        = $image.Kernel
                '/var/lib/libvirt/boot/tiny-initrd.gz'                      = $image.Initrd
            } `
            -Mask 'systemd-machined.service' -Remove '/usr/share/dbus-1/system-services/org.freedesktop.machine1.service' `
            -Device $Device -Bind @{ '/srv/kvmhost-stub' = $repo }
        # A fresh RHEL 9 host: no libvirt daemon enabled or running yet (the overlay brings Debian's enabled libvirtd).
        $null = Invoke-TestBox -Name $boxName -Command (@('systemctl', 'disable', '--now', '--', 'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket'))
        # RHEL 9 runs NetworkManager from the start; a machine whose package left it disabled would not.
        $null = Invoke-TestBox -Name $boxName -Command systemctl, start, NetworkManager.service

        # The NIC: a veth pair made inside the gateway namespace with its other end created in the box's namespace.
        $null = Invoke-HarnessProcess ip netns, add, $peer
        $null = Invoke-HarnessProcess ip '-n', $peer, link, add, eth0, type, veth, peer, name, enp1s0, netns, $boxName
        $null = Invoke-HarnessProcess ip '-n', $peer, addr, add, 192.0.2.1/24, dev, eth0
        $null = Invoke-HarnessProcess ip '-n', $peer, link, set, eth0, up
        $null = Invoke-HarnessProcess ip '-n', $boxName, link, set, enp1s0, up
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        do {
            $state = (Invoke-TestBox -Name $boxName -Command nmcli, -g, GENERAL.STATE, device, show, enp1s0 -AllowFailure).StdOut.Trim()
            if ($state -like '100*') { break }
            Start-Sleep -Milliseconds 200
        } while ([DateTime]::UtcNow -lt $deadline)
        $nicState = $state
    }
    AfterAll {
        if ($Missing) { return }
        Stop-TestBox -Name $boxName
        if (Test-Path "/run/netns/$peer") { $null = Invoke-HarnessProcess ip netns, delete, $peer -AllowFailure }
        if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
    }

    It 'runs Test-KvmCpuSupport | Install-KvmPackages -Force | Enable-Libvirtd, New-HostBridge | New-KvmGuest (TCG), Get-KvmGuest on br0, Stop, Remove -DeleteStorage (<Kind>)' {
        if ($Missing) { Set-ItResult -Skipped -Because $Missing; return }
        $nicState | Should -BeLike '100*' -Because 'the box''s NetworkManager activates the NIC''s profile before the procedure starts'
        $module = Get-KvmHostModulePath
        $command = @('env', 'NO_COLOR=1', 'TERM=dumb') + @(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-Command', "Import-Module '$module'; $procedure")
        $result = Invoke-TestBox -Name $boxName -Command $command -AllowFailure -TimeoutSec 400
        $line = $result.Output | Where-Object { $_.StartsWith('@@PROCEDURE@@') } | Select-Object -Last 1
        $line | Should -Not -BeNullOrEmpty -Because "pwsh in the box exited $($result.ExitCode): $($result.StdErr) $($result.StdOut)"
        $run = $line.Substring(13) | ConvertFrom-Json
        Write-Host "    seconds per step: $(($run.Seconds.PSObject.Properties | ForEach-Object { "$($_.Name) $($_.Value)" }) -join ', ')"
        $run.PSObject.Properties['Error'] | Should -BeNullOrEmpty -Because "every step runs to its end ($(if ($run.PSObject.Properties['Error']) { $run.Error }))"

        # Host steps: the box is dressed as RHEL 9; its CPU verdict is this machine's (PVM) or 'no /dev/kvm'.
        if ($Device -contains 'kvm') { $run.Cpu.Status | Should -Not -Be 'DeviceMissing' } else { $run.Cpu.Supported | Should -BeFalse }
        @($run.Packages.Name) | Should -Be 'qemu-kvm', 'qemu-img', 'libvirt', 'python3-libvirt', 'guestfs-tools', 'virt-install'
        @($run.Packages.Status) | Should -Be (@('Installed') * 6)
        $run.Libvirt.Mode | Should -Be 'Modular'
        $run.Libvirt.Reachable | Should -BeTrue -Because $run.Libvirt.ProbeDetail

        # The bridge: NetworkManager moved the NIC's address onto br0, live, in the box.
        $run.Bridge.Name | Should -Be 'br0'
        $run.Bridge.Ports | Should -Be 'enp1s0'
        $run.Bridge.Addresses | Should -Be '192.0.2.10/24'
        $run.Bridge.Changed | Should -BeTrue
        (Invoke-TestBox -Name $boxName -Command ip, -o, -4, addr, show, dev, br0).StdOut | Should -Match '192\.0\.2\.10/24'

        # The guest: on br0, TCG with its warning wherever the verdict is not KVM.
        ($run.Guest.Name, $run.Guest.State) | Should -Be @('vm01', 'Running')
        $run.Guest.Bridges | Should -Be 'br0'
        $run.Guest.Disks | Should -Be '/var/lib/libvirt/images/vm01.qcow2'
        if ($run.Cpu.Acceleration -ne 'Kvm') {
            $run.DomainType | Should -Be 'qemu'
            ($run.Warnings -join "`n") | Should -Match "Guest 'vm01' runs under TCG .* because Test-KvmCpuSupport says $($run.Cpu.Status)"
        }
        $run.QemuProcesses | Should -Be 1
        # v1 controller lines ('N:memory:/'...) name the box's cgroup root: libvirt made no group of its own there.
        @($run.QemuCgroups | Where-Object { $_ -match '^\d+:[^:]*[a-z]:(?<path>.*)$' -and $_ -notmatch '^\d+:name=systemd:' -and $Matches.path -ne '/' }) | Should -BeNullOrEmpty
        @($run.NewCgroupsWhileRunning) | Should -BeNullOrEmpty

        # Stopped by ACPI, removed with its volume.
        $run.Stopped | Should -Be 'ShutOff'
        $run.Removed.Removed | Should -BeTrue
        $run.Removed.DeletedVolumes | Should -Be 'default/vm01.qcow2 (/var/lib/libvirt/images/vm01.qcow2)'
        @($run.GuestsAfter) | Should -BeNullOrEmpty
    }

    It 'leaves nothing: no domain, volume file or QEMU process in the box, then no cgroup directory, network namespace or mount on this machine (<Kind>)' {
        if ($Missing) { Set-ItResult -Skipped -Because $Missing; return }
        (Invoke-TestBox -Name $boxName -Command virsh, -q, -c, 'qemu:///system', list, --all, --name).StdOut.Trim() | Should -BeNullOrEmpty
        (Invoke-TestBox -Name $boxName -Command test, -e, /var/lib/libvirt/images/vm01.qcow2 -AllowFailure).ExitCode | Should -Be 1
        (Invoke-TestBox -Name $boxName -Command pgrep, -f, qemu-system -AllowFailure).ExitCode | Should -Be 1 -Because 'no QEMU process runs in the box'

        Stop-TestBox -Name $boxName
        $null = Invoke-HarnessProcess ip netns, delete, $peer
        @(Get-NewCgroupDirectory -Before $cgroupsBefore -BoxName $boxName) | Should -BeNullOrEmpty
        (Invoke-HarnessProcess ip netns, list).Output | Where-Object { $_ -match "^($([regex]::Escape($boxName))|$([regex]::Escape($peer)))( |$)" } | Should -BeNullOrEmpty
        Get-MountLine $boxName | Should -BeNullOrEmpty
        (@(Get-ChildItem -LiteralPath /var/lib/libvirt/images -Force -ErrorAction Ignore | ForEach-Object Name) -join ', ') |
            Should -Be ($hostImages -join ', ') -Because 'the box wrote only into its own overlay'
    }
}
