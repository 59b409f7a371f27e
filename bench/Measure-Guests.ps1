<#
.SYNOPSIS
    The guest cmdlets against virsh on the same libvirtd: Get-KvmGuest over N defined guests, Start-KvmGuest
    and Stop-KvmGuest -TurnOff against virsh start/destroy, and the memory of a pwsh that listed them.
    Returns benchmark rows.
.DESCRIPTION
    A guest lab (tests/harness/GuestLab.psm1: a throw-away libvirtd in its own namespaces) with N guests
    defined, each with a 16 MiB qcow2 disk as virt-install makes one (a file in the default pool's folder,
    <disk type='file'>); they need not run. Get-KvmGuest runs warm, in this process (the module imported and
    called a few times first), against one `virsh list --all` process and against `virsh dominfo` for every
    guest (what a script scraping virsh does to get each guest's memory and CPUs). Then the same list in a
    second lab whose guests' disks are pool volumes (<disk type='volume'>), whose sizes libvirt gives only one
    call per volume while the guest is off. Samples of the two sides alternate so load drift hits both alike;
    the figures are medians. Needs root, libvirtd and QEMU (the lab's reasons otherwise).
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [int] $GuestCount = 200,
    [int] $ListRounds = 11,
    [int] $DominfoRounds = 2,
    [int] $LifecycleRounds = 15
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Import-Module (Join-Path $repo 'tests/harness/Harness.psm1'), (Join-Path $repo 'tests/harness/GuestLab.psm1') -Force

$reason = Test-GuestLabSupported
if ($reason) { return [pscustomobject]@{ Skipped = "Guests suite skipped: $reason" } }
Import-Module $Module -Force

function Measure-Milliseconds([scriptblock] $Action) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    & $Action
    $clock.Elapsed.TotalMilliseconds
}

function Invoke-Virsh([string[]] $Arguments) {
    $output = & virsh -c $lab.Uri @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "virsh $Arguments failed: $output" }
}

function Add-BenchGuest([pscustomobject] $Lab, [ValidateSet('File', 'Volume')] [string] $Disk) {
    # One virsh process defines them all (a fixture step, not measured). Either way the image is a qcow2 in the
    # default pool's folder; a file disk names its path, a volume disk the pool and the volume.
    $definitions = Join-Path $Lab.Directory 'bench-guests'
    $null = New-Item -ItemType Directory -Path $definitions -Force
    $commands = [Text.StringBuilder]::new()
    foreach ($i in 1..$GuestCount) {
        $name = 'bench{0:d3}' -f $i
        $xml = if ($Disk -eq 'Volume') { New-LabGuestXml -Lab $Lab -Name $name -Volume "$name.qcow2" } else {
            (New-LabGuestXml -Lab $Lab -Name $name) -replace '<devices>', ("<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>" +
                "<source file='$($Lab.LabImagesPath)/$name.qcow2'/><target dev='vda' bus='virtio'/></disk>")
        }
        [IO.File]::WriteAllText("$definitions/$name.xml", $xml)
        $null = $commands.Append("vol-create-as default $name.qcow2 16M --format qcow2; define $definitions/$name.xml; ")
    }
    $null = Invoke-HarnessProcess virsh @('-q', '-c', $Lab.Uri, $commands.ToString()) -TimeoutSec 900
    $listed = @(Get-KvmGuest -Uri $Lab.Uri 'bench[0-9]*')
    if ($listed.Count -ne $GuestCount -or @($listed | Where-Object { $_.Disks[0].CapacityBytes -ne 16MB }).Count) {
        throw "Get-KvmGuest read $($listed.Count) of $GuestCount guests, or some without their disk's size"
    }
    $listed
}

function Measure-List([pscustomobject] $Lab) {
    foreach ($i in 1..3) { $null = Get-KvmGuest -Uri $Lab.Uri; Invoke-Virsh list, --all | Out-Null }
    $kvm = [Collections.Generic.List[double]]::new()
    $list = [Collections.Generic.List[double]]::new()
    foreach ($round in 1..$ListRounds) {
        $kvm.Add((Measure-Milliseconds { $null = Get-KvmGuest -Uri $Lab.Uri }))
        $list.Add((Measure-Milliseconds { $null = & virsh -c $Lab.Uri list --all }))
    }
    (Get-Median $kvm), (Get-Median $list)
}

$volumeLab = Start-GuestLab
try {
    $lab = $volumeLab
    $null = Add-BenchGuest -Lab $volumeLab -Disk Volume
    $volumeKvmMs, $volumeListMs = Measure-List $volumeLab
}
finally {
    Stop-GuestLab $volumeLab
}

$lab = Start-GuestLab
try {
    $listed = Add-BenchGuest -Lab $lab -Disk File
    $null = New-LabGuest -Lab $lab -Name bench-life -DiskSizeMiB 0
    $kvmMs, $listMs = Measure-List $lab

    $dominfo = [Collections.Generic.List[double]]::new()
    $kvmAgain = [Collections.Generic.List[double]]::new()
    foreach ($round in 1..$DominfoRounds) {
        $dominfo.Add((Measure-Milliseconds { foreach ($guest in $listed) { $null = & virsh -c $lab.Uri dominfo $guest.Name } }))
        $kvmAgain.Add((Measure-Milliseconds { $null = Get-KvmGuest -Uri $lab.Uri }))
    }
    $dominfoMs = Get-Median $dominfo
    $kvmAgainMs = Get-Median $kvmAgain

    # The same guest started and powered off by each side in turn; each start launches a new QEMU.
    $kvmStart = [Collections.Generic.List[double]]::new(); $kvmStop = [Collections.Generic.List[double]]::new()
    $virshStart = [Collections.Generic.List[double]]::new(); $virshStop = [Collections.Generic.List[double]]::new()
    $kvmFirst = $true
    foreach ($round in 1..$LifecycleRounds) {
        $ours = {
            $kvmStart.Add((Measure-Milliseconds { Start-KvmGuest -Uri $lab.Uri bench-life }))
            $kvmStop.Add((Measure-Milliseconds { Stop-KvmGuest -Uri $lab.Uri bench-life -TurnOff }))
        }
        $theirs = {
            $virshStart.Add((Measure-Milliseconds { Invoke-Virsh start, bench-life | Out-Null }))
            $virshStop.Add((Measure-Milliseconds { Invoke-Virsh destroy, bench-life | Out-Null }))
        }
        if ($kvmFirst) { & $ours; & $theirs } else { & $theirs; & $ours }
        $kvmFirst = -not $kvmFirst
    }

    # Memory: a new pwsh that imports the module, against one that also lists the guests three times.
    $pwsh = Get-HarnessPwshCommand
    $rss = 'foreach ($i in 1..3) { [GC]::Collect(); [GC]::WaitForPendingFinalizers() }; ((Get-Content /proc/self/status | Select-String ''^VmRSS:'').Line -replace ''\D'') / 1KB'
    $memory = foreach ($listing in $false, $true) {
        $work = if ($listing) { "`$guests = foreach (`$i in 1..3) { Get-KvmGuest -Uri '$($lab.Uri)' }; `$guests = `$null; " } else { '' }
        $answer = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "Import-Module '$Module'; $work$rss"
        if ($LASTEXITCODE -ne 0) { throw "memory probe failed: $answer" }
        [double] ($answer | Select-Object -Last 1)
    }

    $startDelta = (Get-Median $kvmStart) - (Get-Median $virshStart)
    $stopDelta = (Get-Median $kvmStop) - (Get-Median $virshStop)
    [pscustomobject]@{
        Benchmark = "Warm: Get-KvmGuest over $GuestCount defined guests (a qcow2 file disk each, as virt-install makes them) vs one 'virsh list --all' process"
        Baseline = '{0:N1} ms' -f $listMs; KvmHost = '{0:N1} ms' -f $kvmMs
        Ratio = '{0:N3}' -f ($kvmMs / $listMs); Target = '< 1 (faster)'; TargetRatio = 1; Label = "Get-KvmGuest, $GuestCount guests, vs virsh list --all"
        Met = $kvmMs -lt $listMs
        Note = "median of $ListRounds alternating samples; Get-KvmGuest also reads every guest's XML, disk sizes and autostart, which virsh list does not"
    }
    [pscustomobject]@{
        Benchmark = "Warm: the same with pool-volume disks (<disk type='volume'>): one more call per guest that is off"
        Baseline = '{0:N1} ms' -f $volumeListMs; KvmHost = '{0:N1} ms' -f $volumeKvmMs
        Ratio = '{0:N3}' -f ($volumeKvmMs / $volumeListMs); Target = '< 1 (faster)'; TargetRatio = 1; Label = "Get-KvmGuest, $GuestCount volume-disk guests, vs virsh list --all"
        Met = $volumeKvmMs -lt $volumeListMs
        Note = "median of $ListRounds alternating samples in a second lab; libvirt gives a volume's sizes only through the storage pool, one call each"
    }
    [pscustomobject]@{
        Benchmark = "Warm: Get-KvmGuest over $GuestCount guests vs 'virsh dominfo' for each guest"
        Baseline = '{0:N0} ms' -f $dominfoMs; KvmHost = '{0:N1} ms' -f $kvmAgainMs
        Ratio = '{0:N4}' -f ($kvmAgainMs / $dominfoMs); Target = '>= 20x faster'; TargetRatio = 0.05; Label = "Get-KvmGuest vs virsh dominfo x $GuestCount"
        Met = ($kvmAgainMs / $dominfoMs) -le 0.05
        Note = "{0:N0}x faster; median of $DominfoRounds rounds of $GuestCount virsh processes each" -f ($dominfoMs / $kvmAgainMs)
    }
    [pscustomobject]@{
        Benchmark = 'Start-KvmGuest vs virsh start on the same guest (TCG, no disk)'
        Baseline = '{0:N0} ms' -f (Get-Median $virshStart); KvmHost = '{0:N0} ms' -f (Get-Median $kvmStart)
        Ratio = '{0:N3}' -f ((Get-Median $kvmStart) / (Get-Median $virshStart)); Target = 'within 50 ms of virsh'; TargetRatio = $null; Label = 'Start-KvmGuest vs virsh start'
        Met = $startDelta -le 50
        Note = "{0:+0;-0} ms; medians of $LifecycleRounds alternating rounds; Start-KvmGuest also confirms the guest runs" -f $startDelta
    }
    [pscustomobject]@{
        Benchmark = 'Stop-KvmGuest -TurnOff vs virsh destroy on the same guest'
        Baseline = '{0:N0} ms' -f (Get-Median $virshStop); KvmHost = '{0:N0} ms' -f (Get-Median $kvmStop)
        Ratio = '{0:N3}' -f ((Get-Median $kvmStop) / (Get-Median $virshStop)); Target = 'within 50 ms of virsh'; TargetRatio = $null; Label = 'Stop-KvmGuest -TurnOff vs virsh destroy'
        Met = $stopDelta -le 50
        Note = "{0:+0;-0} ms; medians of $LifecycleRounds alternating rounds" -f $stopDelta
    }
    [pscustomobject]@{
        Benchmark = "Memory (RSS after a full GC) of a new pwsh that imported KvmHost vs one that also listed the $GuestCount guests three times"
        Baseline = '{0:N1} MiB' -f $memory[0]; KvmHost = '{0:N1} MiB' -f $memory[1]
        Ratio = '{0:N3}' -f ($memory[1] / $memory[0]); Target = '(reported)'; TargetRatio = $null; Label = 'pwsh memory after listing guests'
        Met = $null
        Note = '+{0:N1} MiB: the libvirt library, its connection and the JIT of the guest code' -f ($memory[1] - $memory[0])
    }
}
finally {
    Stop-GuestLab $lab
}
