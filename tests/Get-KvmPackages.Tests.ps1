<#
    Get-KvmPackages: the read side. Real rpm against scratch roots filled by real dnf from a stub
    repository; no package manager may run, and nothing in the root may change.
#>
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/StubRepo.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    # Why the tests with the real dnf and rpm cannot run here, or $null.
    $script:noRepo = Test-StubRepoSupported
    $script:stubs = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-pester-get-stubs-$([guid]::NewGuid().ToString('N').Substring(0, 8))"

    function Get-RootState([string] $Root) {
        # rpm's sqlite database may touch its -shm file on a read: compare the files outside it and the package list.
        $packages = (& rpm --root $Root -qa | Sort-Object) -join ','
        "$(Get-TreeHash (Join-Path $Root 'usr'))|$(Get-TreeHash (Join-Path $Root 'etc'))|$packages"
    }

    function Get-StartedCommand([object[]] $Records) {
        @($Records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Running: *' } |
            ForEach-Object { $_.Message })
    }
}

AfterAll {
    if (Test-Path $stubs) { Remove-Item $stubs -Recurse -Force }
}

Describe 'Get-KvmPackages' -Tag Packages {
    It 'reports part of the set installed, with versions, by one rpm query and no dnf' {
        if ($script:noRepo) { Set-ItResult -Skipped -Because $script:noRepo; return }
        $repo = New-StubRepo -Path $stubs -Profile rhel9
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' }
        try {
            & dnf @(Get-StubDnfArgument -InstallRoot $root -RepoPath $repo) -y -q install libvirt virt-install 2>&1 | Out-Null
            $LASTEXITCODE | Should -Be 0
            $before = Get-RootState $root

            $records = Get-KvmPackages -Root $root -Name virt-viewer -Verbose 4>&1
            $packages = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] })

            $packages.Name | Should -Be 'qemu-kvm', 'qemu-img', 'libvirt', 'python3-libvirt', 'guestfs-tools', 'virt-install', 'virt-viewer'
            $packages.Status | Should -Be 'Missing', 'Missing', 'AlreadyInstalled', 'AlreadyInstalled', 'Missing', 'AlreadyInstalled', 'Missing'
            ($packages | Where-Object Name -eq 'libvirt').Version | Should -Be '10.10.0-7.el9'
            ($packages | Where-Object Name -eq 'qemu-kvm').Version | Should -BeNullOrEmpty
            $packages[0].PSObject.Properties.Name | Should -Not -Contain 'Changed' -Because 'a read describes state only'

            $started = Get-StartedCommand $records
            @($started | Where-Object { $_ -match '^Running: rpm .* -q ' }).Count | Should -Be 1
            $started | Should -Not -Match '^Running: (dnf|yum|apt-get) '
            Get-RootState $root | Should -Be $before
        } finally { Remove-ScratchRoot $root }
    }

    It 'reports everything Missing in an empty root and leaves it empty' {
        if ($script:noRepo) { Set-ItResult -Skipped -Because $script:noRepo; return }
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-8.10.os-release' }
        try {
            $before = Get-TreeHash $root
            $packages = Get-KvmPackages -Root $root
            $packages.Name | Should -Contain 'python3-libvirt'
            @($packages.Status | Select-Object -Unique) | Should -Be 'Missing'
            Get-TreeHash $root | Should -Be $before -Because 'rpm -q would create an empty database'
        } finally { Remove-ScratchRoot $root }
    }

    It 'reads a Debian root with dpkg-query' {
        if (-not (Get-Command dpkg-query -ErrorAction Ignore)) { Set-ItResult -Skipped -Because "no 'dpkg-query' on PATH (Debian package dpkg)"; return }
        # A status file as dpkg writes it: one installed package, one removed with its configuration kept.
        $status = "Package: libvirt-clients`nStatus: install ok installed`nPriority: optional`nSection: admin`n" +
            "Maintainer: Debian Libvirt Maintainers`nArchitecture: amd64`nVersion: 9.0.0-4`nDescription: Programs for the libvirt library`n`n" +
            "Package: virtinst`nStatus: deinstall ok config-files`nPriority: optional`nSection: admin`n" +
            "Maintainer: Debian Libvirt Maintainers`nArchitecture: all`nVersion: 1:4.1.0-3`nDescription: Programs to create and clone virtual machines`n"
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/debian-12.os-release' } -Files @{ 'var/lib/dpkg/status' = $status }
        try {
            $packages = Get-KvmPackages -Root $root -Name virtinst -NoDefaultPackages
            $packages.Status | Should -Be 'Missing'
            $packages = Get-KvmPackages -Root $root
            ($packages | Where-Object Name -eq 'libvirt-clients').Version | Should -Be '9.0.0-4'
            ($packages | Where-Object Name -eq 'libvirt-clients').PackageManager | Should -Be 'apt-get'
            @($packages | Where-Object Status -eq 'AlreadyInstalled').Count | Should -Be 1
        } finally { Remove-ScratchRoot $root }
    }

    It 'shows the state only, with Debian''s longest names and versions uncut on one 120-column line' {
        $packages = @(
            [KvmHost.Core.Packages.KvmPackage]@{ Name = 'libvirt-daemon-system'; Version = '9.0.0-4+deb12u2'; Status = 'AlreadyInstalled'; PackageManager = 'apt-get' }
            [KvmHost.Core.Packages.KvmPackage]@{ Name = 'qemu-system-x86'; Version = '1:7.2+dfsg-7+deb12u18+b3'; Status = 'AlreadyInstalled'; PackageManager = 'apt-get' }
            [KvmHost.Core.Packages.KvmPackage]@{ Name = 'libguestfs-tools'; Status = 'Missing'; PackageManager = 'apt-get' }
        )
        $lines = @(($packages | Out-String -Width 120) -split "`n" | ForEach-Object TrimEnd | Where-Object { $_ })
        $lines[0] | Should -Match '^Name\s+Version\s+Status\s+PackageManager$'
        $lines.Count | Should -Be 5 -Because 'nothing wraps'
        $lines[2] | Should -Match '^libvirt-daemon-system\s+9\.0\.0-4\+deb12u2\s+AlreadyInstalled\s+apt-get$'
        $lines[3] | Should -Match '^qemu-system-x86\s+1:7\.2\+dfsg-7\+deb12u18\+b3\s+AlreadyInstalled\s+apt-get$'
    }

    It 'on this machine, when it is Debian, reads the live package database and shows it uncut' {
        if (-not (Get-Command dpkg-query -CommandType Application -ErrorAction Ignore)) {
            Set-ItResult -Skipped -Because 'this machine has no dpkg-query: not a Debian/Ubuntu host'
            return
        }
        $packages = @(Get-KvmPackages)
        $packages[0].PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Packages.KvmPackage'
        $text = $packages | Out-String -Width 120
        foreach ($package in $packages) {
            $text | Should -Match "(?m)^$([regex]::Escape($package.Name))\s+$([regex]::Escape("$($package.Version)"))\s*$($package.Status)\s+apt-get$"
        }
    }

    It 'refuses a name that could be read as an option' {
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' }
        try {
            { Get-KvmPackages -Root $root -Name '--dbpath=/tmp' } | Should -Throw -ErrorId 'PackageNameInvalid,KvmHost.Commands.GetKvmPackagesCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'fails with OsReleaseNotFound for a root that is not a system' {
        $root = New-ScratchRoot
        try {
            { Get-KvmPackages -Root $root } | Should -Throw -ErrorId 'OsReleaseNotFound,KvmHost.Commands.GetKvmPackagesCommand'
        } finally { Remove-ScratchRoot $root }
    }

    It 'has a synopsis and examples in Get-Help' {
        $help = Get-Help Get-KvmPackages -Full
        $help.Synopsis | Should -Match 'without running a package manager'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
    }
}
