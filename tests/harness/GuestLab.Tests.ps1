<#
    Proves the guest lab itself (guestlab.sh, tiny-guest.sh, GuestLab.psm1): a libvirtd of the test's
    own in throw-away namespaces, and the tiny guest booted by real QEMU under TCG. The guest cmdlets'
    tests build on what is shown here. Needs root; without it (or without libvirt and QEMU) every test
    skips and says why. Timings are printed (Write-Host "timing: ..."), never asserted.
#>
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'Harness.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'GuestLab.psm1') -Force
    $script:noLab = Test-GuestLabSupported

    function New-GuestName { "g-$([guid]::NewGuid().ToString('N').Substring(0, 8))" }
    function Get-GuestState([pscustomobject] $Lab, [string] $Name) {
        (Invoke-GuestLabVirsh $Lab 'domstate', '--reason', $Name).StdOut.Trim()
    }
    function Wait-GuestState([pscustomobject] $Lab, [string] $Name, [string] $State, [int] $TimeoutSec = 60) {
        # A bounded wait for an asynchronous change; the assertion is on the state, not on the time.
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        do {
            $now = Get-GuestState $Lab $Name
            if ($now -eq $State) { return $now }
            Start-Sleep -Milliseconds 50
        } while ([DateTime]::UtcNow -lt $deadline)
        $now
    }
    function Get-LabProcess([long] $PidNamespace) {
        # Every process of the lab's pid namespace, seen from the machine.
        foreach ($directory in [IO.Directory]::GetDirectories('/proc')) {
            $id = Split-Path $directory -Leaf
            if ($id -notmatch '^\d+$') { continue }
            try {
                if ([IO.FileInfo]::new("$directory/ns/pid").LinkTarget -ne "pid:[$PidNamespace]") { continue }
                $stat = [IO.File]::ReadAllText("$directory/stat")
                [pscustomobject]@{
                    Pid         = [int] $id
                    State       = ($stat.Substring($stat.LastIndexOf(')') + 2) -split ' ')[0]
                    CommandLine = [IO.File]::ReadAllText("$directory/cmdline").Replace([char] 0, ' ').Trim()
                    Cgroup      = [IO.File]::ReadAllText("$directory/cgroup")
                }
            }
            catch [System.IO.IOException], [System.UnauthorizedAccessException] { }   # the process just ended
        }
    }
    function Get-GuestQemu([pscustomobject] $Lab, [string] $Name) {
        Get-LabProcess $Lab.PidNamespace | Where-Object { $_.CommandLine -like "*qemu-system-x86_64 -name guest=$Name,*" }
    }
    function Get-NetnsPinning([long] $NetNamespace) {
        # `ip netns` names (bind mounts under /run/netns) that keep the given network namespace alive.
        foreach ($link in Get-ChildItem /run/netns -File -ErrorAction Ignore) {
            if ((& stat -L -c %i $link.FullName) -eq "$NetNamespace") { $link.Name }
        }
    }
    function Format-Seconds([TimeSpan] $Span) { "$([math]::Round($Span.TotalSeconds, 2)) s" }
}

Describe 'Test-GuestLabSupported' -Tag 'Harness', 'GuestLab' {
    # Runs everywhere: these are the reasons the other tests print when they skip.
    It 'says why when not root' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'guest labs need Linux' }
        Mock -ModuleName GuestLab Test-HarnessRoot { $false }
        Test-GuestLabSupported | Should -BeLike 'guest labs need root*'
    }

    It 'names a missing program and its Debian package' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'guest labs need Linux' }
        Mock -ModuleName GuestLab Test-HarnessRoot { $true }
        Mock -ModuleName GuestLab Get-HarnessMissingCommand { 'qemu-img' } -ParameterFilter { $Name -contains 'qemu-img' }
        Mock -ModuleName GuestLab Get-HarnessMissingCommand { $null } -ParameterFilter { $Name -notcontains 'qemu-img' }
        Test-GuestLabSupported | Should -BeLike "*'qemu-img'*qemu-utils*"
    }
}

Describe 'the tiny guest image' -Tag 'Harness', 'GuestLab' {
    It 'is built from Debian packages once, then comes from the cache' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $first = Get-TinyGuestImage
        Write-Host "timing: tiny guest image $(if ($first.Built) { 'built' } else { 'from the cache' }) in $(Format-Seconds $clock.Elapsed)"
        $second = Get-TinyGuestImage
        $second.Built | Should -BeFalse -Because 'the second call finds the first one''s image'
        $second.Kernel | Should -Be $first.Kernel
        $second.Initrd | Should -Be $first.Initrd
        $first.KernelVersion | Should -Match '-cloud-amd64$'
        (Get-Item $first.Kernel).Length | Should -BeGreaterThan 1MB
        $cache = Split-Path (Split-Path $first.Kernel)
        Get-ChildItem (Join-Path $cache 'debs') -Name | Should -Match '^(linux-image-.*-cloud-amd64|busybox-static)_.*\.deb$'
    }

    It 'holds busybox, the init and the virtio modules after what they depend on' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $image = Get-TinyGuestImage
        # The initramfs is a gzipped newc cpio: 110-byte headers of hex fields, names and data 4-aligned.
        $gzip = [IO.Compression.GZipStream]::new([IO.File]::OpenRead($image.Initrd), [IO.Compression.CompressionMode]::Decompress)
        $buffer = [IO.MemoryStream]::new()
        try { $gzip.CopyTo($buffer) } finally { $gzip.Dispose() }
        $bytes = $buffer.ToArray()
        $files = @{}
        $offset = 0
        while ($true) {
            $header = [Text.Encoding]::ASCII.GetString($bytes, $offset, 110)
            $header.Substring(0, 6) | Should -Be '070701'
            $size = [Convert]::ToInt32($header.Substring(54, 8), 16)
            $nameSize = [Convert]::ToInt32($header.Substring(94, 8), 16)
            $name = [Text.Encoding]::ASCII.GetString($bytes, $offset + 110, $nameSize - 1)
            if ($name -eq 'TRAILER!!!') { break }
            $dataStart = ($offset + 110 + $nameSize + 3) -band -bnot 3
            $files[$name] = [Text.Encoding]::ASCII.GetString($bytes, $dataStart, [math]::Min($size, 4096))
            $offset = ($dataStart + $size + 3) -band -bnot 3
        }
        $files.Keys | Should -Contain 'bin/busybox'
        $files['init'] | Should -Match 'KVMHOST-GUEST-READY'
        $files['etc/acpi/PWRF/00000080'] | Should -Match 'poweroff -f'
        $order = @($files['etc/modules-order'] -split "`n" | Where-Object { $_ })
        foreach ($pair in @(('virtio_ring', 'virtio'), ('virtio', 'virtio_pci'), ('virtio_pci_modern_dev', 'virtio_pci'),
                ('virtio_pci_legacy_dev', 'virtio_pci'), ('virtio', 'virtio_blk'), ('net_failover', 'virtio_net'))) {
            [array]::IndexOf($order, $pair[0]) | Should -BeLessThan ([array]::IndexOf($order, $pair[1])) -Because "$($pair[1]) needs $($pair[0])"
        }
        $order | Should -Contain 'button'
        $order | Should -Contain 'evdev'
        foreach ($module in $order) { $files.Keys | Should -Contain "lib/modules/$module.ko" }
    }

    It 'gives the noacpi variant a kernel argument that keeps acpid from starting' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        (Get-TinyGuestImage -Variant acpi).KernelArguments | Should -Not -Match 'kvmhost\.noacpi'
        (Get-TinyGuestImage -Variant noacpi).KernelArguments | Should -Match '(^| )kvmhost\.noacpi( |$)'
    }
}

Describe 'a guest lab' -Tag 'Harness', 'GuestLab', 'Root' {
    BeforeAll {
        $script:lab = $null
        if (-not $script:noLab) {
            $script:lab = Start-GuestLab
            Write-Host "timing: lab start $(Format-Seconds $script:lab.StartTime)"
        }
        $script:acpiGuest = New-GuestName
    }
    AfterAll { if ($script:lab) { Stop-GuestLab $script:lab } }

    It 'answers on its own socket, with a default pool at its private /var/lib/libvirt/images' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        Test-Path -LiteralPath $lab.SocketPath | Should -BeTrue
        $lab.Uri | Should -Be "qemu+unix:///system?socket=$($lab.SocketPath)"
        (Invoke-GuestLabVirsh $lab 'pool-info', 'default').StdOut | Should -Match '(?m)^State:\s+running'
        ([xml] (Invoke-GuestLabVirsh $lab 'pool-dumpxml', 'default').StdOut).pool.target.path | Should -Be '/var/lib/libvirt/images'
        $volume = "probe-$(New-GuestName).qcow2"
        $null = Invoke-GuestLabVirsh $lab 'vol-create-as', 'default', $volume, '1M', '--format', 'qcow2'
        Test-Path -LiteralPath (Join-Path $lab.ImagesPath $volume) | Should -BeTrue -Because 'the pool lives in the lab folder'
        Test-Path -LiteralPath "/var/lib/libvirt/images/$volume" | Should -BeFalse -Because "the machine's own pool folder is not the lab's"
        $null = Invoke-GuestLabVirsh $lab 'vol-delete', '--pool', 'default', $volume
    }

    It 'runs libvirtd and virtlogd in its own pid namespace, and its network namespace has only loopback' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $commands = (Get-LabProcess $lab.PidNamespace).CommandLine
        $commands | Should -Contain 'libvirtd -d'
        $commands | Should -Contain 'virtlogd -d'
        [IO.FileInfo]::new("/proc/$($lab.Pid)/ns/net").LinkTarget | Should -Be "net:[$($lab.NetNamespace)]"
        [IO.FileInfo]::new('/proc/self/ns/net').LinkTarget | Should -Not -Be "net:[$($lab.NetNamespace)]"
        (Invoke-InGuestLab $lab -Command ip, -o, link, show).Output | Should -HaveCount 1
        (Invoke-InGuestLab $lab -Command ip, -o, link, show).Output[0] | Should -Match '^1: lo:'
    }

    It 'offers TCG only, also where the machine has a /dev/kvm' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $capabilities = [xml] (Invoke-GuestLabVirsh $lab 'capabilities').StdOut
        $types = @($capabilities.capabilities.guest | Where-Object { $_.arch.name -eq 'x86_64' } | ForEach-Object { $_.arch.domain.type })
        $types | Should -Contain 'qemu'
        $types | Should -Not -Contain 'kvm'
        $inside = (Invoke-InGuestLab $lab -Command sh, -c, 'stat -c "%F %a" /dev/kvm 2>/dev/null || echo none').Output
        if (Test-Path /dev/kvm) { $inside | Should -Be 'character special file 0' } else { $inside | Should -Be 'none' }
    }

    It 'runs a child pwsh inside, for which qemu:///system is the lab''s daemon' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $defined = New-GuestName
        $null = New-LabGuest -Lab $lab -Name $defined -DiskSizeMiB 0
        $script = '"{0} {1}" -f ((& virsh uri) -join "").Trim(), ((& virsh -q list --all --name) -join ",")'
        $result = Invoke-InGuestLab $lab -Command (@(Get-HarnessPwshCommand) + @('-NoProfile', '-NonInteractive', '-Command', $script)) `
            -Environment @{ LIBVIRT_DEFAULT_URI = $null } -TimeoutSec 120
        $result.Output | Should -Be "qemu:///system $defined"
        $null = Invoke-GuestLabVirsh $lab 'undefine', $defined
    }

    It 'boots a guest to its marker, printing its disk''s first line' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $guest = New-LabGuest -Lab $lab -Name $acpiGuest -DiskText "first-line-$acpiGuest" -Start
        Wait-LabGuestConsole -Lab $lab -Name $acpiGuest -Pattern '^KVMHOST-GUEST-READY ' | Should -Be "KVMHOST-GUEST-READY $acpiGuest"
        Write-Host "timing: define + start -> marker $(Format-Seconds $clock.Elapsed)"
        Get-LabGuestConsole -Lab $lab -Name $acpiGuest | Should -Contain "KVMHOST-DISK first-line-$acpiGuest"
        Get-GuestState $lab $acpiGuest | Should -Be 'running (booted)'
        $guest.SerialLogPath | Should -BeLike "$($lab.LogPath)/*"
        $qemu = @(Get-GuestQemu $lab $acpiGuest)
        $qemu | Should -HaveCount 1
        $qemu[0].CommandLine | Should -Match '-accel tcg'
        # cgroup_controllers = [ ]: QEMU stays in the cgroups it was started in (the lab's), creating none.
        $qemu[0].Cgroup | Should -Be ([IO.File]::ReadAllText("/proc/$($lab.Pid)/cgroup"))
    }

    It 'takes commands typed on its serial console' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        # The typed line is echoed as typed; only the shell's answer has 42 in it.
        Send-LabGuestConsole -Lab $lab -Name $acpiGuest -Text 'echo KVMHOST-ECHO-$((6*7))'
        Wait-LabGuestConsole -Lab $lab -Name $acpiGuest -Pattern '^KVMHOST-ECHO-42' -TimeoutSec 30 | Should -Be 'KVMHOST-ECHO-42'
    }

    It 'powers off the acpi guest on an ACPI shutdown request' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $null = Invoke-GuestLabVirsh $lab 'shutdown', $acpiGuest
        Wait-GuestState $lab $acpiGuest 'shut off (shutdown)' | Should -Be 'shut off (shutdown)'
        Write-Host "timing: ACPI shutdown -> shut off $(Format-Seconds $clock.Elapsed)"
        Get-LabGuestConsole -Lab $lab -Name $acpiGuest | Should -Contain "KVMHOST-GUEST-POWEROFF $acpiGuest"
    }

    It 'keeps what the guest wrote to its disk across a power cycle' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $null = Invoke-GuestLabVirsh $lab 'start', $acpiGuest
        $null = Wait-LabGuestConsole -Lab $lab -Name $acpiGuest -Pattern '^KVMHOST-GUEST-READY ' -Occurrence 2
        Send-LabGuestConsole -Lab $lab -Name $acpiGuest -Text "printf 'written-$acpiGuest\n' >/dev/vda; sync; echo KVMHOST-WRITTEN"
        $null = Wait-LabGuestConsole -Lab $lab -Name $acpiGuest -Pattern '^KVMHOST-WRITTEN' -TimeoutSec 30
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $null = Invoke-GuestLabVirsh $lab 'reboot', $acpiGuest
        Wait-LabGuestConsole -Lab $lab -Name $acpiGuest -Pattern '^KVMHOST-DISK ' -Occurrence 3 | Should -Be "KVMHOST-DISK written-$acpiGuest"
        $null = Wait-LabGuestConsole -Lab $lab -Name $acpiGuest -Pattern '^KVMHOST-GUEST-READY ' -Occurrence 3
        Write-Host "timing: reboot (ACPI) -> marker $(Format-Seconds $clock.Elapsed)"
    }

    It 'keeps the noacpi guest running through an ACPI shutdown request, which it did receive' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $name = New-GuestName
        $null = New-LabGuest -Lab $lab -Name $name -Variant noacpi -DiskSizeMiB 0 -Start
        $null = Wait-LabGuestConsole -Lab $lab -Name $name -Pattern '^KVMHOST-GUEST-READY '
        (Invoke-GuestLabVirsh $lab 'shutdown', $name).ExitCode | Should -Be 0 -Because 'virsh shutdown is only a request'
        # The kernel counts power-button presses: once it has counted this one, the guest has had its
        # chance to act on it and did not.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        $presses = 0
        $asked = 0
        while ($presses -lt 1 -and [DateTime]::UtcNow -lt $deadline) {
            Send-LabGuestConsole -Lab $lab -Name $name -Text 'echo KVMHOST-PRESSES-$(awk "{ print \$1 }" /sys/firmware/acpi/interrupts/ff_pwr_btn)-END'
            $asked++
            $line = Wait-LabGuestConsole -Lab $lab -Name $name -Pattern '^KVMHOST-PRESSES-\d+-END' -Occurrence $asked -TimeoutSec 30
            $presses = [int] ($line -replace '^KVMHOST-PRESSES-(\d+)-END.*$', '$1')
        }
        $presses | Should -BeGreaterOrEqual 1
        Get-GuestState $lab $name | Should -Be 'running (booted)'
        Get-LabGuestConsole -Lab $lab -Name $name | Should -Not -Contain "KVMHOST-GUEST-POWEROFF $name"
        $null = Invoke-GuestLabVirsh $lab 'destroy', $name
    }

    It 'reaps what dies in it: no zombie QEMU after a guest is destroyed' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $name = New-GuestName
        $null = New-LabGuest -Lab $lab -Name $name -DiskSizeMiB 0 -Start
        $null = Wait-LabGuestConsole -Lab $lab -Name $name -Pattern '^KVMHOST-GUEST-READY '
        $qemu = (Get-GuestQemu $lab $name).Pid
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $null = Invoke-GuestLabVirsh $lab 'destroy', $name
        Write-Host "timing: destroy $(Format-Seconds $clock.Elapsed)"
        Test-Path "/proc/$qemu" | Should -BeFalse -Because 'the lab''s PID 1 waited for it'
        Get-LabProcess $lab.PidNamespace | Where-Object State -eq 'Z' | Should -BeNullOrEmpty
    }
}

Describe 'a guest lab with a network' -Tag 'Harness', 'GuestLab', 'Root' {
    BeforeAll {
        $script:netLab = $null
        if (-not $script:noLab) { $script:netLab = Start-GuestLab -Network }
    }
    AfterAll { if ($script:netLab) { Stop-GuestLab $script:netLab } }

    It 'leases the guest an address that libvirt reports, inside the lab only' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $name = New-GuestName
        $null = New-LabGuest -Lab $netLab -Name $name -DiskSizeMiB 0 -Network default -Start
        $line = Wait-LabGuestConsole -Lab $netLab -Name $name -Pattern '^KVMHOST-NET eth0 '
        $address = ($line -split ' ')[2]
        $address | Should -Match '^203\.0\.113\.(1\d\d|200)$'
        (Invoke-GuestLabVirsh $netLab 'domifaddr', $name, '--source', 'lease').StdOut | Should -Match "ipv4\s+$([regex]::Escape($address))/24"
        # The bridge and its address exist in the lab's network namespace, not on the machine.
        (Invoke-InGuestLab $netLab -Command ip, -o, -4, addr, show, dev, virbr0).StdOut | Should -Match '203\.0\.113\.1/24'
        (& ip -o -4 addr show) -join "`n" | Should -Not -Match '203\.0\.113\.1/24'
        $null = Invoke-GuestLabVirsh $netLab 'destroy', $name
    }
}

Describe 'two guest labs at once' -Tag 'Harness', 'GuestLab', 'Root' {
    BeforeAll {
        $script:labs = @()
        if (-not $script:noLab) { $script:labs = @(Start-GuestLab; Start-GuestLab) }
    }
    AfterAll { $script:labs | Stop-GuestLab }

    It 'do not see each other''s guests, sockets or namespaces' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $first, $second = $labs
        # The same name in both: each daemon has its own /etc/libvirt and /var/lib/libvirt.
        $shared = New-GuestName
        $own = @(New-GuestName; New-GuestName)
        foreach ($index in 0, 1) {
            $null = New-LabGuest -Lab $labs[$index] -Name $shared -DiskSizeMiB 1
            $null = New-LabGuest -Lab $labs[$index] -Name $own[$index] -DiskSizeMiB 0
        }
        foreach ($index in 0, 1) {
            $expected = @($shared, $own[$index]) | Sort-Object
            (Invoke-GuestLabVirsh $labs[$index] 'list', '--all', '--name').Output | Sort-Object | Should -Be $expected
            (Invoke-InGuestLab $labs[$index] -Command virsh, -q, -c, qemu:///system, list, --all, --name).Output |
                Sort-Object | Should -Be $expected
        }
        $first.SocketPath | Should -Not -Be $second.SocketPath
        $first.PidNamespace | Should -Not -Be $second.PidNamespace
        $first.NetNamespace | Should -Not -Be $second.NetNamespace
    }
}

Describe 'stopping a guest lab' -Tag 'Harness', 'GuestLab', 'Root' {
    It 'kills its running guests and daemons and leaves nothing behind' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $lab = Start-GuestLab
        $name = New-GuestName
        try {
            $null = New-LabGuest -Lab $lab -Name $name -Start
            $null = Wait-LabGuestConsole -Lab $lab -Name $name -Pattern '^KVMHOST-GUEST-READY '
            $qemu = (Get-GuestQemu $lab $name).Pid
            $qemu | Should -Not -BeNullOrEmpty
        }
        finally {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            Stop-GuestLab $lab
            Write-Host "timing: stop a lab with a running guest $(Format-Seconds $clock.Elapsed)"
        }
        Test-Path -LiteralPath $lab.Directory | Should -BeFalse
        Test-Path "/proc/$qemu" | Should -BeFalse
        Get-LabProcess $lab.PidNamespace | Should -BeNullOrEmpty
        Get-NetnsPinning $lab.NetNamespace | Should -BeNullOrEmpty
        Get-ChildItem /sys/fs/cgroup -Recurse -Directory -ErrorAction Ignore | Where-Object Name -like "*$($name -replace '-', '*')*" |
            Should -BeNullOrEmpty
    }

    It 'fails, naming it, when something of the lab outlives it' {
        if ($script:noLab) { Set-ItResult -Skipped -Because $script:noLab; return }
        $lab = Start-GuestLab
        # A name in `ip netns` keeps the lab's network namespace alive after its last process.
        $pinned = "$($lab.Name)-pin"
        & ip netns attach $pinned $lab.Pid
        try {
            { Stop-GuestLab $lab } | Should -Throw "*ip netns $pinned is the lab's network namespace*"
        }
        finally {
            & ip netns delete $pinned
        }
        Test-Path -LiteralPath $lab.Directory | Should -BeFalse
    }
}
