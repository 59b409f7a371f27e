<#
    Proves the test harness itself: systemd boxes (box.sh, SystemdBox.psm1) and stub RPM repositories
    (stub-rpms.sh, StubRepo.psm1). Needs root; without it, or without namespaces, the tests skip and say why.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'Harness.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'SystemdBox.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'StubRepo.psm1') -Force
    $script:noBox = Test-TestBoxSupported
    $script:noRepo = Test-StubRepoSupported
    $script:noBoxOrRepo = if ($script:noBox) { $script:noBox } else { $script:noRepo }
    $script:noLinux = if (-not $IsLinux) { 'the harness needs Linux' }
    $script:noPrivateEtc = if (-not $IsLinux) { 'private-etc.sh needs Linux' }
        elseif (-not (Test-HarnessRoot)) { 'private-etc.sh needs root (a mount namespace, overlayfs)' }
        elseif (Get-HarnessMissingCommand bash, unshare, mount) { "private-etc.sh needs '$(Get-HarnessMissingCommand bash, unshare, mount)'" }
        elseif (-not (Select-String -Path /proc/filesystems -Pattern '\soverlay$' -Quiet)) { 'private-etc.sh needs overlayfs' }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'Harness.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'SystemdBox.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'StubRepo.psm1') -Force
    $script:fixtures = Join-Path $PSScriptRoot '../fixtures' | Resolve-Path | Select-Object -ExpandProperty ProviderPath

    function New-TempDirectory {
        $path = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-harness-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
        (New-Item -ItemType Directory -Path $path).FullName
    }
    function New-BoxName { "kvmh-$([guid]::NewGuid().ToString('N').Substring(0, 8))" }
    function Get-MountLine {
        # Mount point, type and source: the mount id in column 1 changes with unrelated remounts.
        Get-Content /proc/self/mountinfo | ForEach-Object {
            $fields = $_ -split ' '
            $tail = [array]::IndexOf($fields, '-')
            "$($fields[4]) $($fields[$tail + 1]) $($fields[$tail + 2])"
        }
    }
    function Invoke-Native {
        # Native command with its exit code and all its output, for dnf/rpm/yum on the host.
        param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @())
        $output = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" }
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $output -join "`n" }
    }
}

Describe "the harness's process runner$(if ($script:noLinux) { " (skipped: $script:noLinux)" })" -Tag Harness -Skip:([bool] $script:noLinux) {
    It 'passes each argument as one argv entry and splits stdout into lines' {
        $result = Invoke-HarnessProcess bash '-c', 'printf "%s\n" "$@"; echo oops >&2', 'bash', 'two words', '$HOME', ''
        $result.ExitCode | Should -Be 0
        $result.Output | Should -Be @('two words', '$HOME')
        $result.StdOut | Should -BeExactly "two words`n`$HOME`n`n"
        $result.StdErr | Should -BeExactly "oops`n"
        $result.Command | Should -Be @('bash', '-c', 'printf "%s\n" "$@"; echo oops >&2', 'bash', 'two words', '$HOME', '')
    }

    It 'throws with stderr on a non-zero exit, unless told to allow it' {
        { Invoke-HarnessProcess bash '-c', 'echo broken >&2; exit 3' } | Should -Throw "*exited 3: broken*"
        (Invoke-HarnessProcess bash '-c', 'exit 3' -AllowFailure).ExitCode | Should -Be 3
    }

    It 'gives the child an empty, closed stdin' {
        (Invoke-HarnessProcess bash '-c', 'cat; echo "read $?"' -TimeoutSec 20).Output | Should -Be 'read 0'
    }

    It 'sets and removes variables for the child only' {
        $env:KVMHOST_HARNESS_PROBE = 'parent'
        try {
            $script = 'echo "${KVMHOST_HARNESS_PROBE-unset} ${KVMHOST_HARNESS_CHILD-unset}"'
            (Invoke-HarnessProcess bash '-c', $script -Environment @{ KVMHOST_HARNESS_PROBE = $null; KVMHOST_HARNESS_CHILD = 'child' }).Output |
                Should -Be 'unset child'
            (Invoke-HarnessProcess bash '-c', $script).Output | Should -Be 'parent unset'
        }
        finally { Remove-Item Env:KVMHOST_HARNESS_PROBE }
    }

    It 'kills the whole process tree at the timeout and says so' {
        $marker = "kvmhost-harness-timeout-$([guid]::NewGuid().ToString('N'))"
        # The grandchild would outlive a kill of bash alone.
        { Invoke-HarnessProcess bash '-c', "sh -c 'sleep 300; : $marker' & wait" -TimeoutSec 1 } | Should -Throw 'Timed out after 1 s*'
        $left = Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' | Where-Object {
            try { [IO.File]::ReadAllText("$($_.FullName)/cmdline").Contains($marker) } catch { $false }
        }
        $left | Should -BeNullOrEmpty
    }
}

Describe "a private /etc (private-etc.sh)$(if ($script:noPrivateEtc) { " (skipped: $script:noPrivateEtc)" })" -Tag Harness -Skip:([bool] $script:noPrivateEtc) {
    BeforeAll {
        $privateEtc = Join-Path $PSScriptRoot 'private-etc.sh'
        $probe = "kvmhost-private-etc-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    }

    It 'keeps what the command writes to /etc away from the machine (in --upper when given)' {
        $upper = New-TempDirectory
        try {
            $result = Invoke-HarnessProcess bash $privateEtc, '--upper', $upper, '--', 'sh', '-c', "echo written > /etc/$probe; cat /etc/$probe; ls -a /run/lock"
            $result.Output[0] | Should -Be 'written'
            $result.Output | Should -Not -Contain 'kvmhost.lock' -Because '/run/lock is a fresh tmpfs'
            Test-Path "/etc/$probe" | Should -BeFalse
            Get-Content (Join-Path $upper "upper/$probe") | Should -Be 'written'
            (Invoke-HarnessProcess bash $privateEtc, '--', 'sh', '-c', "echo again > /etc/$probe && cat /etc/$probe").Output | Should -Be 'again'
            Test-Path "/etc/$probe" | Should -BeFalse
        }
        finally { Remove-Item -LiteralPath $upper -Recurse -Force }
    }

    It 'keeps mounts below /etc where they were (a lab''s /etc/NetworkManager, ip netns exec''s binds)' {
        $work = New-TempDirectory
        try {
            [IO.File]::WriteAllText((Join-Path $work 'hostname'), "$probe`n")
            # A mount namespace of the test's own stands in for a lab's.
            $script = 'mount --bind "$1" /etc/hostname && bash "$2" -- cat /etc/hostname'
            $result = Invoke-HarnessProcess unshare '--mount', '--propagation', 'private', '--', 'sh', '-c', $script, 'sh', (Join-Path $work 'hostname'), $privateEtc
            $result.Output | Should -Be $probe
        }
        finally { Remove-Item -LiteralPath $work -Recurse -Force }
    }

    It 'empties a folder below /etc but for the names to keep, in the overlay only' {
        $machine = @(Get-ChildItem /etc/sysctl.d -Force -Name)
        $result = Invoke-HarnessProcess bash $privateEtc, '--empty', '/etc/sysctl.d:99-sysctl.conf', '--', 'ls', '-A', '/etc/sysctl.d'
        $result.Output | Should -Be @($machine | Where-Object { $_ -eq '99-sysctl.conf' })
        @(Get-ChildItem /etc/sysctl.d -Force -Name) | Should -Be $machine
    }

    It 'shows a bind on top of the overlay, and refuses a bind it must not make, before mounting anything' {
        $work = New-TempDirectory
        try {
            [IO.File]::WriteAllText((Join-Path $work 'os-release'), "ID=$probe`n")
            (Invoke-HarnessProcess bash $privateEtc, '--bind', "$(Join-Path $work 'os-release'):/etc/os-release", '--', 'cat', '/etc/os-release').Output |
                Should -Be "ID=$probe"
            foreach ($case in @(
                    @{ Spec = "$(Join-Path $work 'os-release'):/nonexistent-$probe"; Message = '*does not exist*' }
                    @{ Spec = "$(Join-Path $work 'os-release'):/etc/sysctl.d"; Message = '*must both be directories or both files*' }
                    @{ Spec = "$(Join-Path $work 'os-release'):/etc/a:b"; Message = "*paths with ':' are not supported*" }
                    @{ Spec = "$(Join-Path $work 'os-release')"; Message = '*is not SRC:DEST*' })) {
                $result = Invoke-HarnessProcess bash $privateEtc, '--bind', $case.Spec, '--', 'sh', '-c', 'echo ran' -AllowFailure
                $result.ExitCode | Should -Not -Be 0
                $result.StdErr | Should -BeLike $case.Message
                $result.Output | Should -Not -Contain 'ran'
            }
        }
        finally { Remove-Item -LiteralPath $work -Recurse -Force }
    }
}

Describe "a systemd box$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Tag Harness -Skip:([bool] $script:noBox) {
    BeforeAll {
        $osRelease = Join-Path $fixtures 'os-release/rhel-9.6.os-release'
        $name = New-BoxName
        $box = Start-TestBox -Name $name -OsRelease $osRelease
        Write-Host "box boot: $([math]::Round($box.BootTime.TotalSeconds, 2)) s"
    }
    AfterAll { Stop-TestBox -Name $name }

    It 'boots to running or degraded well within 15 s' {
        $box.BootTime.TotalSeconds | Should -BeLessThan 15
        (Invoke-TestBox -Name $box.Name -Command systemctl, is-system-running -AllowFailure).StdOut.Trim() |
            Should -BeIn 'running', 'degraded'
    }

    It 'shows the --os-release file as /etc/os-release' {
        (Invoke-TestBox -Name $box.Name -Command cat, /etc/os-release).StdOut |
            Should -BeExactly ([IO.File]::ReadAllText($osRelease))
    }

    It 'has a network namespace of its own, named after the box' {
        $boxNet = & readlink "/proc/$($box.Pid)/ns/net"
        $boxNet | Should -Not -Be (& readlink /proc/self/ns/net)
        (& ip netns identify $box.Pid) | Should -Be $box.Name
        (Invoke-TestBox -Name $box.Name -Command readlink, /proc/self/ns/net).StdOut.Trim() | Should -Be $boxNet
    }

    It 'runs dbus, which systemctl and NetworkManager answer over' {
        (Invoke-TestBox -Name $box.Name -Command systemctl, is-active, dbus.service).StdOut.Trim() | Should -Be 'active'
        (Invoke-TestBox -Name $box.Name -Command busctl, --system, status, org.freedesktop.systemd1).ExitCode | Should -Be 0
        (Invoke-TestBox -Name $box.Name -Command nmcli, -t, -f, RUNNING, general).StdOut.Trim() | Should -Be 'running'
    }

    It 'starts Debian libvirtd with systemctl and answers virsh on qemu:///system' {
        Invoke-TestBox -Name $box.Name -Command systemctl, start, libvirtd.service
        (Invoke-TestBox -Name $box.Name -Command systemctl, is-active, libvirtd.service).StdOut.Trim() | Should -Be 'active'
        (Invoke-TestBox -Name $box.Name -Command virsh, -c, qemu:///system, list, --all).ExitCode | Should -Be 0
        # The first capability probe of the emulator takes about 4 s.
        (Invoke-TestBox -Name $box.Name -TimeoutSec 60 -Command virsh, --readonly, -c, qemu:///system, version).StdOut |
            Should -Match 'Running hypervisor: QEMU'
    }

    It 'passes exit codes through, and throws on failure unless told not to' {
        (Invoke-TestBox -Name $box.Name -Command sh, -c, 'exit 7' -AllowFailure).ExitCode | Should -Be 7
        { Invoke-TestBox -Name $box.Name -Command systemctl, is-active, no-such.service } | Should -Throw '*exited 3*'
        (Invoke-TestBox -Name $box.Name -Command systemctl, start, no-such.service -AllowFailure).ExitCode | Should -Be 5
    }
}

Describe "a box's removed files, devices and host name$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Tag Harness -Skip:([bool] $script:noBox) {
    BeforeAll {
        $name = New-BoxName
        # A file every Debian machine has, so the test proves the removal and not a missing package.
        $removed = '/etc/debian_version'
        $device = if (Test-Path /dev/kvm) { 'kvm' } else { 'net/tun' }
        $box = Start-TestBox -Name $name -Remove $removed -Device $device
    }
    AfterAll { Stop-TestBox -Name $name }

    It 'hides a -Remove path in the box and leaves the machine''s file alone' {
        Test-Path $removed | Should -BeTrue
        (Invoke-TestBox -Name $name -Command test, -e, $removed -AllowFailure).ExitCode | Should -Be 1
    }

    It 'binds a -Device node of the machine into the box''s /dev' {
        Test-Path "/dev/$device" | Should -BeTrue -Because 'the test picks a node this machine has'
        (Invoke-TestBox -Name $name -Command stat, -c, '%t:%T', "/dev/$device").StdOut.Trim() | Should -Be (& stat -c '%t:%T' "/dev/$device")
    }

    It 'resolves its own host name without DNS (libvirt looks it up at every call)' {
        (Invoke-TestBox -Name $name -Command getent, hosts, $name).StdOut | Should -Match "^127\.0\.1\.1\s+$([regex]::Escape($name))"
    }

    It 'refuses a -Remove path with .. and a -Device the machine lacks, starting nothing' {
        $other = New-BoxName
        { Start-TestBox -Name $other -Remove '/etc/../etc/passwd' } | Should -Throw '*--remove wants an absolute path*'
        { Start-TestBox -Name $other -Device 'no-such-device' } | Should -Throw '*/dev/no-such-device is not a device node*'
        Test-Path "/run/kvmhost-test-boxes/$other" | Should -BeFalse
    }
}

Describe "stopping a box$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Tag Harness -Skip:([bool] $script:noBox) {
    BeforeAll { $name = New-BoxName }
    AfterAll { Stop-TestBox -Name $name }

    It 'leaves no mount, network namespace, cgroup, state or process behind, and may be repeated' {
        $before = Get-MountLine
        $box = Start-TestBox -Name $name
        $cgroups = @(Get-Content "/run/kvmhost-test-boxes/$name/cgroups")
        Stop-TestBox -Name $name
        $after = Get-MountLine

        # Other harnesses may add or drop their own `ip netns` names meanwhile, and iproute2 makes
        # /run/netns a mount of its own on first use and keeps it; the box's own name must be gone.
        $changed = Compare-Object $before $after | Where-Object { $_.InputObject -notmatch '^/run/netns[/ ]' }
        $changed | Should -BeNullOrEmpty
        $after | Where-Object { $_ -match "kvmhost-box|/run/netns/$name " } | Should -BeNullOrEmpty
        Test-Path "/run/netns/$name" | Should -BeFalse
        Test-Path "/run/kvmhost-test-boxes/$name" | Should -BeFalse
        Test-Path "/proc/$($box.Pid)" | Should -BeFalse
        $cgroups | Where-Object { Test-Path $_ } | Should -BeNullOrEmpty
        { Stop-TestBox -Name $name } | Should -Not -Throw
    }
}

Describe "dnf and rpm inside a box$(if ($script:noBoxOrRepo) { " (skipped: $script:noBoxOrRepo)" })" -Tag Harness -Skip:([bool] $script:noBoxOrRepo) {
    BeforeAll {
        $out = New-TempDirectory
        $repo = New-StubRepo -Path $out -Profile rhel9
        $name = New-BoxName
        # The box's /tmp is its own, so the repository goes in through a bind mount.
        $box = Start-TestBox -Name $name -OsRelease (Join-Path $fixtures 'os-release/rhel-9.6.os-release') `
            -Bind @{ '/srv/kvmhost-stub' = $repo } `
            -Content @{ '/etc/yum.repos.d/kvmhost-stub.repo' = (Get-StubRepoDefinition '/srv/kvmhost-stub') }
    }
    AfterAll {
        Stop-TestBox -Name $name
        Remove-Item -LiteralPath $out -Recurse -Force -ErrorAction Ignore
    }

    It 'installs from a repository file in /etc/yum.repos.d and rpm -q sees the packages' {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        Invoke-TestBox -Name $box.Name -Command dnf, -y, install, qemu-kvm
        Write-Host "dnf install in a box: $([math]::Round($clock.Elapsed.TotalSeconds, 2)) s"
        (Invoke-TestBox -Name $box.Name -Command rpm, -q, qemu-kvm, qemu-kvm-core, qemu-img).ExitCode | Should -Be 0
        (Invoke-TestBox -Name $box.Name -Command cat, /usr/share/kvmhost-stub/qemu-kvm).StdOut.Trim() |
            Should -Be 'qemu-kvm 9.1.0-15.el9'
        Test-Path /usr/share/kvmhost-stub | Should -BeFalse -Because 'the box writes into its overlay, not the host'
    }
}

Describe "a stub repository$(if ($script:noRepo) { " (skipped: $script:noRepo)" })" -Tag Harness -Skip:([bool] $script:noRepo) {
    BeforeAll {
        $out = New-TempDirectory
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $repo = New-StubRepo -Path $out
        Write-Host "stub repo build (rhel9): $([math]::Round($clock.Elapsed.TotalSeconds, 2)) s"
    }
    AfterAll { Remove-Item -LiteralPath $out -Recurse -Force -ErrorAction Ignore }

    It 'installs qemu-kvm and libvirt with their dependencies into an empty installroot' {
        $root = New-TempDirectory
        try {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            # The command line as TESTBED.md gives it.
            $dnf = Invoke-Native dnf "--installroot=$root", '--releasever=9', '--setopt=reposdir=/dev/null',
                "--repofrompath=local,$repo", '--setopt=local.gpgcheck=0', '-y', 'install', 'qemu-kvm', 'libvirt'
            Write-Host "dnf install into an installroot: $([math]::Round($clock.Elapsed.TotalSeconds, 2)) s"
            $dnf.ExitCode | Should -Be 0 -Because $dnf.Output

            $rpm = Invoke-Native rpm '--root', $root, '-q', 'qemu-kvm', 'qemu-kvm-core', 'qemu-img', 'libvirt', 'libvirt-daemon', 'libvirt-client'
            $rpm.ExitCode | Should -Be 0 -Because $rpm.Output
            Get-Content (Join-Path $root 'usr/share/kvmhost-stub/libvirt') | Should -Be 'libvirt 10.10.0-7.el9'
            # Debian's rpm: %_dbpath is $HOME/.rpmdb, so as root the installroot's database is <root>/root/.rpmdb.
            Test-Path (Join-Path $root "$env:HOME/.rpmdb") | Should -BeTrue
        }
        finally { Remove-Item -LiteralPath $root -Recurse -Force }
    }

    It 'fails with exit 1 on an unknown name and installs nothing of the batch' {
        $root = New-TempDirectory
        try {
            $dnf = Invoke-Native dnf ((Get-StubDnfArgument -InstallRoot $root -RepoPath $repo) + @('-y', 'install', 'qemu-kvm', 'no-such-package'))
            $dnf.ExitCode | Should -Be 1
            $dnf.Output | Should -Match 'No match for argument: no-such-package'
            (Invoke-Native rpm '--root', $root, '-qa').Output | Should -BeNullOrEmpty
        }
        finally { Remove-Item -LiteralPath $root -Recurse -Force }
    }

    It 'reuses a repository that is newer than the script' {
        $stamp = (Get-Item (Join-Path $repo 'repodata')).LastWriteTimeUtc
        New-StubRepo -Path $out | Should -Be $repo
        (Get-Item (Join-Path $repo 'repodata')).LastWriteTimeUtc | Should -Be $stamp
    }

    It 'serves the RHEL 7 names through a yum stand-in, and not the RHEL 9 ones' {
        $work = New-TempDirectory
        $savedPath = $env:PATH
        try {
            $repo7 = New-StubRepo -Path (Join-Path $work 'stubs') -Profile rhel7
            $env:PATH = "$(New-YumStandIn (Join-Path $work 'bin')):$env:PATH"
            (Get-Command yum -CommandType Application | Select-Object -First 1).Source | Should -Be (Join-Path $work 'bin/yum')

            $root = Join-Path $work 'root'
            $yum = Invoke-Native yum ((Get-StubDnfArgument -InstallRoot $root -RepoPath $repo7 -ReleaseVer 7Server) + @('-y', 'install', 'virt-install'))
            $yum.ExitCode | Should -Be 0 -Because $yum.Output
            (Invoke-Native rpm '--root', $root, '-q', 'libvirt-python').ExitCode | Should -Be 0
            (Invoke-Native yum ((Get-StubDnfArgument -InstallRoot $root -RepoPath $repo7 -ReleaseVer 7Server) + @('-y', 'install', 'python3-libvirt'))).ExitCode |
                Should -Be 1
        }
        finally {
            $env:PATH = $savedPath
            Remove-Item -LiteralPath $work -Recurse -Force
        }
    }
}
