<#
    Install-KvmPackages against the real dnf, yum (dnf-3 standing in) and rpm: stub packages named like
    RHEL's, with RHEL's dependencies between them, installed into scratch roots (-Root) and into
    throw-away systemd boxes dressed as RHEL 9 and RHEL 7. Needs root (rpm chroots into a root).
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    $script:noRepo = Test-StubRepoSupported
    $script:noBox = if ($script:noRepo) { $script:noRepo } else { Test-TestBoxSupported }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force

    $script:rhel9Set = 'qemu-kvm', 'qemu-img', 'libvirt', 'python3-libvirt', 'guestfs-tools', 'virt-install'
    $script:stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-pester-stubs-$([guid]::NewGuid().ToString('N').Substring(0, 8))"

    function New-PackageRoot {
        # An empty system: its os-release, and a .repo file pointing at a stub repository (or none).
        param([string] $OsRelease = 'os-release/rhel-9.6.os-release', [string] $Repo)
        $files = @{}
        if ($Repo) { $files['etc/yum.repos.d/kvmhost-stub.repo'] = Get-StubRepoDefinition $Repo }
        New-ScratchRoot -Fixtures @{ 'etc/os-release' = $OsRelease } -Files $files -Directories 'etc/yum.repos.d'
    }

    function Get-RootRpm {
        # What rpm itself says is installed in the root: name -> VERSION-RELEASE.
        param([string] $Root, [string[]] $Name)
        $installed = @{}
        & rpm --root $Root -q --qf '%{NAME} %{VERSION}-%{RELEASE}\n' @Name 2>$null | ForEach-Object {
            if ($_ -notmatch ' is not installed$') { $fields = $_ -split ' '; $installed[$fields[0]] = $fields[1] }
        }
        $installed
    }

    function Get-AllRootRpm([string] $Root) { @(& rpm --root $Root -qa --qf '%{NAME}\n' 2>$null | Sort-Object) }

    function Get-VerboseCommand {
        # The command lines the module started, from its Write-Verbose lines.
        param([object[]] $Records)
        @($Records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Running: *' } |
            ForEach-Object { $_.Message })
    }

    function Invoke-KvmHostInBox {
        # Runs the built module inside a box with the same pwsh as here; returns what the script printed
        # as JSON, or its error id.
        param([string] $Name, [string] $Script)
        $prelude = "`$ErrorActionPreference = 'Stop'; Import-Module '$(Get-KvmHostModulePath)'; "
        $command = @(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-Command', $prelude + $Script)
        $result = Invoke-TestBox -Name $Name -Command $command -AllowFailure -TimeoutSec 120
        if ($result.ExitCode -ne 0) { throw "pwsh in box $Name exited $($result.ExitCode): $($result.StdErr)$($result.StdOut)" }
        $result.StdOut | ConvertFrom-Json
    }

    $script:boxScript = @'
function Invoke-Probe([scriptblock] $Action) {
    $verbose = @(); $errorId = $null; $objects = @()
    $VerbosePreference = 'Continue'
    try { $objects = @(& $Action 4>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.VerboseRecord]) { $verbose += $_.Message } else { $_ } }) }
    catch { $errorId = $_.FullyQualifiedErrorId }
    [pscustomobject]@{
        Packages = @($objects | Select-Object Name, Version, @{ n = 'Status'; e = { "$($_.Status)" } }, Changed, PackageManager)
        Commands = @($verbose | Where-Object { $_ -like 'Running: *' })
        ErrorId  = $errorId
    }
}
'@
}

AfterAll {
    if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
}

Describe "Install-KvmPackages into a scratch root with the real dnf$(if ($script:noRepo) { " (skipped: $script:noRepo)" })" -Tag Packages -Skip:([bool] $script:noRepo) {
    BeforeAll {
        $repo = New-StubRepo -Path (Join-Path $stubs 'rhel9') -Profile rhel9
    }

    It 'installs the RHEL 9 set with its dependencies in one dnf run, rpm then lists them, and a second run starts no dnf' {
        $root = New-PackageRoot -Repo $repo
        try {
            $records = Install-KvmPackages -Root $root -Verbose 4>&1
            $packages = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] })

            $packages.Name | Should -Be $rhel9Set
            $packages.Status | Should -Be (@('Installed') * 6)
            $packages.Changed | Should -Be (@($true) * 6)
            $packages | ForEach-Object { $_.PackageManager | Should -Be 'dnf'; $_.Root | Should -Be $root }

            $rpm = Get-RootRpm $root ($rhel9Set + 'qemu-kvm-core', 'libvirt-daemon', 'libvirt-client', 'libguestfs')
            $rpm.Count | Should -Be 10 -Because 'the dependencies come in the same transaction'
            $rpm['qemu-kvm'] | Should -Be '9.1.0-15.el9'
            ($packages | Where-Object Name -eq 'qemu-kvm').Version | Should -Be '9.1.0-15.el9'
            ($packages | Where-Object Name -eq 'libvirt').FollowUp | Should -Match 'Enable-Libvirtd'

            $dnfLines = @(Get-VerboseCommand $records | Where-Object { $_ -like 'Running: dnf *' })
            $dnfLines.Count | Should -Be 1
            $dnfLines[0] | Should -Match ([regex]::Escape("--installroot=$root --setopt=reposdir=$root/etc/yum.repos.d --releasever=9"))

            # The second run: the same answer from the database, and no dnf at all.
            $dnfLog = Join-Path $root 'var/log/dnf.log'
            $logBefore = (Get-Item $dnfLog).Length
            $rpmBefore = Get-AllRootRpm $root
            $records = Install-KvmPackages -Root $root -Verbose 4>&1
            $again = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] })
            $again.Status | Should -Be (@('AlreadyInstalled') * 6)
            $again.Changed | Should -Be (@($false) * 6)
            $again.Version | Should -Be $packages.Version
            Get-VerboseCommand $records | Should -Not -Match '^Running: (dnf|yum) '
            (Get-Item $dnfLog).Length | Should -Be $logBefore -Because 'dnf logs every run it makes'
            Get-AllRootRpm $root | Should -Be $rpmBefore
        } finally { Remove-ScratchRoot $root }
    }

    It 'installs only what is missing when part of the set is there' {
        $root = New-PackageRoot -Repo $repo
        try {
            $null = Install-KvmPackages -Root $root -Name virt-viewer -NoDefaultPackages
            $records = Install-KvmPackages -Root $root -Name virt-viewer -Verbose 4>&1
            $packages = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] })
            ($packages | Where-Object Name -eq 'virt-viewer').Status | Should -Be 'AlreadyInstalled'
            @($packages | Where-Object Status -eq 'Installed').Count | Should -Be 6
            Get-VerboseCommand $records | Where-Object { $_ -like 'Running: dnf *' } | Should -Not -Match 'virt-viewer'
        } finally { Remove-ScratchRoot $root }
    }

    It 'installs nothing of the set when one name matches nothing, and says which' {
        $root = New-PackageRoot -Repo $repo
        try {
            $packages = Install-KvmPackages -Root $root -Name kvmhost-no-such-package -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures[0].FullyQualifiedErrorId | Should -Be 'PackageNotFound,KvmHost.Commands.InstallKvmPackagesCommand'
            $failures[0].Exception.Message | Should -Match 'kvmhost-no-such-package'
            $failures[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            @($packages).Status | Should -Be (@('Failed') * 7)
            Get-AllRootRpm $root | Should -BeNullOrEmpty
        } finally { Remove-ScratchRoot $root }
    }

    It 'changes nothing under -WhatIf, shows each package as it is and the dnf command that would install it' {
        $root = New-PackageRoot -Repo $repo
        try {
            $null = Install-KvmPackages -Root $root -Name virt-viewer -NoDefaultPackages
            $before = Get-TreeHash $root
            $records = Install-KvmPackages -Root $root -Name virt-viewer -WhatIf -Verbose 4>&1
            $packages = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] })
            $packages.Status | Should -Be (@('Missing') * 6 + 'AlreadyInstalled')
            $packages.Changed | Should -Be (@($false) * 7)
            $packages.WhatIf | Should -Be (@($true) * 7)
            ($packages | Where-Object Name -eq 'virt-viewer').PlannedChanges | Should -BeNullOrEmpty
            ($packages | Where-Object Name -eq 'qemu-kvm').PlannedChanges | Should -Match "^dnf -y --installroot=$([regex]::Escape($root)) .* install qemu-kvm qemu-img libvirt python3-libvirt guestfs-tools virt-install$"
            Get-VerboseCommand $records | Should -Not -Match '^Running: dnf '
            Get-TreeHash $root | Should -Be $before -Because 'a preview writes nothing, not even a lock file'
        } finally { Remove-ScratchRoot $root }
    }

    It 'fails at once with PackageManagerLocked while another dnf holds the rpmdb lock' {
        $root = New-PackageRoot -Repo $repo
        # dnf's lock is a pid file whose process is alive; a sleeping process stands in for the other dnf.
        $holder = Start-Process -FilePath sleep -ArgumentList 120 -PassThru
        try {
            $null = New-Item -ItemType Directory -Path (Join-Path $root 'var/lib/dnf') -Force
            [IO.File]::WriteAllText((Join-Path $root 'var/lib/dnf/rpmdb_lock.pid'), "$($holder.Id)")
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $thrown = $null
            try { Install-KvmPackages -Root $root -ErrorAction Stop } catch { $thrown = $_ }
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 30 -Because 'dnf must not wait for the lock'
            $thrown.FullyQualifiedErrorId | Should -Be 'PackageManagerLocked,KvmHost.Commands.InstallKvmPackagesCommand'
            $thrown.Exception.Message | Should -Match "process $($holder.Id)"
            Get-AllRootRpm $root | Should -BeNullOrEmpty
        } finally { Stop-Process -Id $holder.Id -ErrorAction Ignore; Remove-ScratchRoot $root }
    }

    It 'says no repository is available when the root has none' {
        $root = New-PackageRoot
        try {
            { Install-KvmPackages -Root $root -ErrorAction Stop } |
                Should -Throw -ErrorId 'PackageRepositoryUnavailable,KvmHost.Commands.InstallKvmPackagesCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'says the repository is unreachable when its baseurl leads nowhere' {
        $root = New-PackageRoot -Repo (Join-Path $stubs 'kvmhost-no-such-repo')
        try {
            { Install-KvmPackages -Root $root -ErrorAction Stop } |
                Should -Throw -ErrorId 'PackageRepositoryUnavailable,KvmHost.Commands.InstallKvmPackagesCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'installs the RHEL 7 set with yum (dnf-3 standing in), releasever 7Server, and refuses an unknown name too' {
        $repo7 = New-StubRepo -Path (Join-Path $stubs 'rhel7') -Profile rhel7
        $root = New-PackageRoot -OsRelease 'os-release/rhel-7.5.os-release' -Repo $repo7
        $yumDir = New-ScratchRoot
        $savedPath = $env:PATH
        try {
            $env:PATH = "$(New-YumStandIn $yumDir):$env:PATH"
            { Install-KvmPackages -Root $root -Name kvmhost-no-such-package -ErrorAction Stop } |
                Should -Throw -ErrorId 'PackageNotFound,KvmHost.Commands.InstallKvmPackagesCommand'
            Get-AllRootRpm $root | Should -BeNullOrEmpty

            $records = Install-KvmPackages -Root $root -Verbose 4>&1
            $packages = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] })
            $packages.Name | Should -Be 'qemu-kvm', 'qemu-img', 'libvirt', 'libvirt-python', 'libguestfs-tools', 'virt-install'
            $packages.Status | Should -Be (@('Installed') * 6)
            $packages[0].PackageManager | Should -Be 'yum'
            (Get-RootRpm $root 'libvirt-python')['libvirt-python'] | Should -Be '4.5.0-1.el7'
            $yumLine = Get-VerboseCommand $records | Where-Object { $_ -like 'Running: yum *' }
            $yumLine | Should -Match '--releasever=7Server'
            $yumLine | Should -Match 'skip_missing_names_on_install=False'
        } finally {
            $env:PATH = $savedPath
            Remove-ScratchRoot $root
            Remove-ScratchRoot $yumDir
        }
    }
}

Describe 'Install-KvmPackages input checks' -Tag Packages {
    It 'refuses <Name> before anything runs, and leaves no lock file' -TestCases @(
        @{ Name = '-y' }, @{ Name = 'qemu kvm' }, @{ Name = 'libvirt;reboot' }, @{ Name = '@virtualization' }, @{ Name = 'virt*' }
    ) {
        $root = New-PackageRoot
        try {
            $before = Get-TreeHash $root
            $records = [Collections.Generic.List[object]]::new()
            $thrown = $null
            try { Install-KvmPackages -Root $root -Name $Name -Verbose 4>&1 | ForEach-Object { $records.Add($_) } } catch { $thrown = $_ }
            $thrown.FullyQualifiedErrorId | Should -Be 'PackageNameInvalid,KvmHost.Commands.InstallKvmPackagesCommand'
            Get-VerboseCommand $records | Should -BeNullOrEmpty
            Get-TreeHash $root | Should -Be $before
        } finally { Remove-ScratchRoot $root }
    }

    It '-WhatIf on an empty RHEL 9 image lists every package as Missing with the dnf command, and writes nothing' {
        if (-not (Get-Command rpm -CommandType Application -ErrorAction Ignore)) {
            Set-ItResult -Skipped -Because 'rpm is not installed here (Debian package rpm): its %{_dbpath} decides where an image keeps its database'
            return
        }
        $root = New-PackageRoot
        try {
            $before = Get-TreeHash $root
            $packages = @(Install-KvmPackages -Root $root -WhatIf)
            Get-TreeHash $root | Should -Be $before
            $packages.Name | Should -Be $rhel9Set
            $packages.Status | Should -Be (@('Missing') * 6) -Because 'a preview shows the state now; WhatIf and PlannedChanges say what would change'
            $packages.WhatIf | Should -Be (@($true) * 6)
            $packages.Changed | Should -Be (@($false) * 6)
            $packages[0].PlannedChanges | Should -Be "dnf -y --installroot=$root --setopt=reposdir=$root/etc/yum.repos.d --releasever=9 --setopt=exit_on_lock=True install $($rhel9Set -join ' ')"
            $packages[0].PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Packages.KvmPackageResult'
        } finally { Remove-ScratchRoot $root }
    }

    It 'refuses a release it does not know' {
        $root = New-PackageRoot -OsRelease 'os-release/amzn-2.os-release'
        try {
            { Install-KvmPackages -Root $root -WhatIf } | Should -Throw -ErrorId 'UnsupportedRelease,KvmHost.Commands.InstallKvmPackagesCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'stops with CpuNotSupported when Test-KvmCpuSupport says no, and goes on with -Force' {
        if (-not (Get-Command rpm -CommandType Application -ErrorAction Ignore)) {
            Set-ItResult -Skipped -Because 'rpm is not installed here (Debian package rpm): -WhatIf asks it where an image keeps its database'
            return
        }
        $cpuRoot = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/x86-kvm-guest-sandybridge-hypervisor-novmx.txt' }
        $root = New-PackageRoot
        try {
            { Test-KvmCpuSupport -Root $cpuRoot | Install-KvmPackages -Root $root -WhatIf } |
                Should -Throw -ErrorId 'CpuNotSupported,KvmHost.Commands.InstallKvmPackagesCommand'
            $packages = Test-KvmCpuSupport -Root $cpuRoot | Install-KvmPackages -Root $root -Force -WhatIf
            @($packages).Status | Should -Be (@('Missing') * 6)
            @($packages).WhatIf | Should -Be (@($true) * 6)
        } finally { Remove-ScratchRoot $cpuRoot; Remove-ScratchRoot $root }
    }

    It 'has a synopsis, examples and every parameter in Get-Help' {
        $help = Get-Help Install-KvmPackages -Full
        $help.Synopsis | Should -Match 'one transaction'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        $documented = @($help.Parameters.Parameter.Name)
        foreach ($parameter in 'Root', 'CpuSupport', 'Name', 'NoDefaultPackages', 'EnableRepository', 'Force', 'TimeoutSec') {
            $documented | Should -Contain $parameter
        }
    }

    It 'shows Name, Version, Status and Changed in its default view' {
        $package = [KvmHost.Core.Packages.KvmPackageResult]@{ Name = 'libvirt'; Version = '10.10.0-7.el9'; Status = 'Installed'; Changed = $true; PackageManager = 'dnf' }
        $text = $package | Format-Table | Out-String -Width 100
        $text | Should -Match 'Name\s+Version\s+Status\s+Changed'
        $text | Should -Match 'libvirt\s+10\.10\.0-7\.el9\s+Installed\s+True'
    }

    It 'fits the longest Debian name and version on one 120-column line, and says what -WhatIf would do' {
        $packages = @(
            [KvmHost.Core.Packages.KvmPackageResult]@{ Name = 'libvirt-daemon-system'; Version = '9.0.0-4+deb12u2'; Status = 'Installed'; Changed = $true; PackageManager = 'apt-get'; FollowUp = 'Start libvirt: Enable-Libvirtd' }
            [KvmHost.Core.Packages.KvmPackageResult]@{ Name = 'qemu-system-x86'; Version = '1:7.2+dfsg-7+deb12u18+b3'; Status = 'AlreadyInstalled'; PackageManager = 'apt-get' }
            [KvmHost.Core.Packages.KvmPackageResult]@{ Name = 'libguestfs-tools'; Status = 'Missing'; WhatIf = $true; PackageManager = 'apt-get'; PlannedChanges = 'apt-get -y install libguestfs-tools' }
        )
        $lines = @(($packages | Out-String -Width 120) -split "`n" | ForEach-Object TrimEnd | Where-Object { $_ })
        $lines.Count | Should -Be 5 -Because 'a header, its rule and one line per package: nothing wraps'
        $lines[2] | Should -Match '^libvirt-daemon-system\s+9\.0\.0-4\+deb12u2\s+Installed\s+True\s+Start libvirt: Enable-Libvirtd$'
        $lines[3] | Should -Match '^qemu-system-x86\s+1:7\.2\+dfsg-7\+deb12u18\+b3\s+AlreadyInstalled\s+False$'
        $lines[4] | Should -Match '^libguestfs-tools\s+Missing\s+False\s+WhatIf: would install$'
    }
}

Describe "Install-KvmPackages in a systemd box dressed as <Release>$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Tag Packages -Skip:([bool] $script:noBox) -ForEach @(
    @{ Release = 'RHEL 9'; OsRelease = 'os-release/rhel-9.6.os-release'; StubProfile = 'rhel9'; Manager = 'dnf'; Binding = 'python3-libvirt' }
    @{ Release = 'RHEL 7'; OsRelease = 'os-release/rhel-7.5.os-release'; StubProfile = 'rhel7'; Manager = 'yum'; Binding = 'libvirt-python' }
) {
    BeforeAll {
        $repo = New-StubRepo -Path (Join-Path $stubs $StubProfile) -Profile $StubProfile
        $boxName = "kvmh-pkg-$StubProfile-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
        $box = Start-TestBox -Name $boxName -OsRelease (Get-FixturePath $OsRelease) -Bind @{ '/srv/kvmhost-stub' = $repo } `
            -Content @{ '/etc/yum.repos.d/kvmhost-stub.repo' = (Get-StubRepoDefinition '/srv/kvmhost-stub') }
        if ($Manager -eq 'yum') { $null = Invoke-TestBox -Name $boxName -Command ln, -s, /usr/bin/dnf-3, /usr/local/bin/yum }
    }
    AfterAll { Stop-TestBox -Name $boxName }

    It 'installs the set on the live root, then a second run starts no package manager, and an unknown name installs nothing' {
        $first = Invoke-KvmHostInBox -Name $boxName -Script ($boxScript + @'
[pscustomobject]@{
    Unknown = Invoke-Probe { Install-KvmPackages -Name virt-viewer, kvmhost-no-such-package }
    First   = Invoke-Probe { Install-KvmPackages }
    Second  = Invoke-Probe { Install-KvmPackages }
    Read    = @(Get-KvmPackages | ForEach-Object { "$($_.Status)" })
} | ConvertTo-Json -Depth 5
'@)
        $first.Unknown.ErrorId | Should -Be 'PackageNotFound,KvmHost.Commands.InstallKvmPackagesCommand'
        $first.First.ErrorId | Should -BeNullOrEmpty
        @($first.First.Packages.Status) | Should -Be (@('Installed') * 6)
        @($first.First.Packages)[0].PackageManager | Should -Be $Manager
        @($first.First.Commands -like "Running: $Manager *").Count | Should -Be 1
        $first.First.Commands -join "`n" | Should -Not -Match 'installroot'

        @($first.Second.Packages.Status) | Should -Be (@('AlreadyInstalled') * 6)
        @($first.Second.Commands) | Should -Not -Match "^Running: (dnf|yum) "
        @($first.Read) | Should -Be (@('AlreadyInstalled') * 6)

        $rpm = Invoke-TestBox -Name $boxName -Command rpm, -q, --qf, '%{NAME}\n', qemu-kvm, libvirt, $Binding, virt-install, virt-viewer -AllowFailure
        $rpm.StdOut | Should -Match "(?m)^$Binding$"
        $rpm.StdOut | Should -Match '(?m)^package virt-viewer is not installed$' -Because 'the batch with an unknown name installed nothing'
        $rpm.ExitCode | Should -Be 1
    }
}
