<#
.SYNOPSIS
    Install-KvmPackages with N of the RHEL 9 set missing: how many package-manager runs it starts, and
    its time against dnf alone installing just those N. Returns benchmark rows.
.DESCRIPTION
    Offline roots with the real dnf and the stub repository. For each N the root gets the other
    packages first (one plain dnf run, not timed), is copied, and then KvmHost fills one copy while
    plain `dnf install <the N missing>` fills the other, in alternating order across N.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string] $StubRepo,
    [int[]] $Missing = @(1, 3, 6)
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $repo 'tests/harness/StubRepo.psm1') -Force
Import-Module $Module -Force

$reason = Test-StubRepoSupported
if ($reason) { return [pscustomobject]@{ Skipped = "Packages suite skipped: $reason" } }

# The RHEL 9 default set, in the order Install-KvmPackages reports it.
$set = 'qemu-kvm', 'qemu-img', 'libvirt', 'python3-libvirt', 'guestfs-tools', 'virt-install'
$osRelease = Join-Path $repo 'tests/fixtures/os-release/rhel-9.6.os-release'

function New-PackageRoot {
    $root = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-bench-pkg-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $null = New-Item -ItemType Directory -Path "$root/etc/yum.repos.d" -Force
    Copy-Item $osRelease "$root/etc/os-release"
    Set-Content "$root/etc/yum.repos.d/kvmhost-stub.repo" (Get-StubRepoDefinition $StubRepo)
    $root
}

function Invoke-Dnf([string] $Root, [string[]] $Name) {
    # The same options Install-KvmPackages gives dnf for an offline root.
    $output = & dnf "--installroot=$Root" "--setopt=reposdir=$Root/etc/yum.repos.d" --releasever=9 -y install -- @Name 2>&1
    if ($LASTEXITCODE -ne 0) { throw "dnf install $Name into $Root failed: $output" }
}

$flip = $false
foreach ($n in $Missing) {
    $present = @($set | Select-Object -First ($set.Count - $n))
    $absent = @($set | Select-Object -Skip ($set.Count - $n))
    $kvmRoot = New-PackageRoot
    $dnfRoot = $null
    try {
        if ($present) { Invoke-Dnf $kvmRoot $present }
        $dnfRoot = "$kvmRoot-dnf"
        & cp -a -- $kvmRoot $dnfRoot
        $clock = [Diagnostics.Stopwatch]::new()
        $kvm = { $clock.Restart(); $script:records = @(Install-KvmPackages -Root $kvmRoot -Verbose 4>&1); $script:kvmMs = $clock.Elapsed.TotalMilliseconds }
        $plain = { $clock.Restart(); Invoke-Dnf $dnfRoot $absent; $script:dnfMs = $clock.Elapsed.TotalMilliseconds }
        if ($flip) { & $plain; & $kvm } else { & $kvm; & $plain }
        $flip = -not $flip
        $commands = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Running: *' } | ForEach-Object Message)
        $managerRuns = @($commands | Where-Object { $_ -match '^Running: (dnf|yum|apt-get) ' })
        $installed = @($records | Where-Object { $_ -is [KvmHost.Core.Packages.KvmPackage] -and "$($_.Status)" -eq 'Installed' })
        Write-Host ("Packages: {0} missing -> {1} dnf run(s), {2:N0} ms vs plain dnf {3:N0} ms" -f $n, $managerRuns.Count, $kvmMs, $dnfMs)
        [pscustomobject]@{
            Benchmark = "Install-KvmPackages with $n of 6 missing: package-manager runs; time vs dnf install of the $n alone"
            Baseline = '{0:N0} ms' -f $dnfMs; KvmHost = "$($managerRuns.Count) run(s), {0:N0} ms" -f $kvmMs
            Ratio = '{0:N2}' -f ($kvmMs / $dnfMs); Target = '1 run'; Met = $managerRuns.Count -eq 1 -and $installed.Count -eq $n
            Note = "$($installed.Count) installed; $($commands.Count) commands in all: " + (($commands | ForEach-Object { ($_ -replace '^Running: ' -split ' ')[0] } | Group-Object | ForEach-Object { "$($_.Count)x $($_.Name)" }) -join ', ')
        }
    }
    finally {
        foreach ($root in $kvmRoot, $dnfRoot) { if ($root -and (Test-Path $root)) { Remove-Item $root -Recurse -Force } }
    }
}
