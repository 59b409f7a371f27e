<#
    Stub RPM repositories for Pester tests: a wrapper over stub-rpms.sh, plus the few pieces tests need
    to point the real dnf (or a yum stand-in) at one.
#>
Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot 'Harness.psm1')

$script:StubScript = Join-Path $PSScriptRoot 'stub-rpms.sh'

function Test-StubRepoSupported {
    <#
    .SYNOPSIS
        $null when stub repositories can be built and installed from here; otherwise why not.
    #>
    [OutputType([string])]
    param()
    if (-not $IsLinux) { return 'stub repositories need Linux' }
    $missing = Get-HarnessMissingCommand bash, rpmbuild, createrepo_c, dnf, dnf-3, rpm
    if ($missing) { return "stub repositories need '$missing' (Debian packages rpm, createrepo-c, dnf)" }
    # rpm installs into an installroot through chroot(2).
    if (-not (Test-HarnessRoot)) { return 'installing stub packages into an installroot needs root (rpm chroots)' }
    $null
}

function New-StubRepo {
    <#
    .SYNOPSIS
        Builds (or reuses, if fresh) a repository of stand-ins for a release's KVM packages under
        Path/repo and returns that directory.
    .DESCRIPTION
        rhel9: qemu-kvm (-> qemu-kvm-core, qemu-img), libvirt (-> libvirt-daemon, libvirt-client),
        python3-libvirt, virt-install (-> python3-libvirt), virt-viewer, libguestfs, guestfs-tools,
        libguestfs-tools, redhat-release. rhel8 has libguestfs-tools-c instead of guestfs-tools; rhel7 has
        qemu-kvm-common instead of qemu-kvm-core and libvirt-python instead of python3-libvirt.
        Each package installs /usr/share/kvmhost-stub/<name>.
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [ValidateSet('rhel7', 'rhel8', 'rhel9')] [string] $Profile = 'rhel9'
    )
    # A failure throws with stderr: rpmbuild's complaints are the useful part of it.
    [string] ((Invoke-HarnessProcess bash $script:StubScript, $Path, $Profile -TimeoutSec 600).Output | Select-Object -Last 1)
}

function New-YumStandIn {
    <#
    .SYNOPSIS
        Makes Path/yum, a symlink to dnf-3 (Debian has no yum), and returns Path: put it first on PATH
        for a RHEL 7 test, e.g. $env:PATH = "$(New-YumStandIn $dir):$env:PATH". Inside a box, link
        /usr/local/bin/yum instead: Invoke-TestBox -Name b -Command ln, -s, /usr/bin/dnf-3, /usr/local/bin/yum
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Path)
    $dnf3 = (Get-Command dnf-3 -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $null = New-Item -ItemType Directory -Path $Path -Force
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Path 'yum') -Target $dnf3 -Force
    (Resolve-Path -LiteralPath $Path).ProviderPath
}

function Get-StubDnfArgument {
    <#
    .SYNOPSIS
        The dnf options that install from a stub repository into an installroot and nothing else
        (no host repositories, no signatures): dnf @(Get-StubDnfArgument $root $repo) -y install qemu-kvm
    #>
    [OutputType([string[]])]
    param(
        [Parameter(Mandatory)] [string] $InstallRoot,
        [Parameter(Mandatory)] [string] $RepoPath,
        [string] $ReleaseVer = '9'
    )
    "--installroot=$InstallRoot", "--releasever=$ReleaseVer", '--setopt=reposdir=/dev/null',
    "--repofrompath=local,$RepoPath", '--setopt=local.gpgcheck=0'
}

function Get-StubRepoDefinition {
    <#
    .SYNOPSIS
        A .repo file's text for a stub repository seen at BoxPath, for a box's /etc/yum.repos.d:
        Start-TestBox -Bind @{ '/srv/kvmhost-stub' = $repo } -Content @{ '/etc/yum.repos.d/kvmhost-stub.repo' = (Get-StubRepoDefinition '/srv/kvmhost-stub') }
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $BoxPath)
    "[kvmhost-stub]`nname=KvmHost stub packages`nbaseurl=file://$BoxPath`ngpgcheck=0`nenabled=1`n"
}

Export-ModuleMember -Function Test-StubRepoSupported, New-StubRepo, New-YumStandIn, Get-StubDnfArgument, Get-StubRepoDefinition
