<#
.SYNOPSIS
    The README's first command: the whole KvmHost setup as pipelines against a throw-away RHEL 9 image,
    then Test-KvmHost on this machine. Changes nothing outside a folder under the temp directory.
.DESCRIPTION
    The image is a scratch root (-Root): the os-release of RHEL 9.6 and the unit files libvirt installs,
    so Enable-Libvirtd and Set-IpForwarding really change the image (systemctl --root, the sysctl drop-in)
    while nothing runtime is touched. Installing packages into it would need a RHEL repository and root,
    so that step runs with -WhatIf and shows the one dnf transaction it would start. The bridge then pipes
    into New-KvmGuest -WhatIf, which shows the virt-install command it would run; what a real run needs first
    (a libvirtd answering, the bridge on the running host) it lists as blockers. Test-KvmHost then
    judges the image on what an image holds (its runtime checks are NotApplicable) and this machine. Run by
    ./build.ps1 -Task Demo after a build; runs without root.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # The os-release the image is dressed in.
    [Parameter(Mandatory)] [string] $OsRelease,
    # The width the views are laid out for. build.ps1 pipes this script's output, so pwsh would assume 80 columns;
    # it passes its own terminal's width (120 when it has none).
    [ValidateRange(40, 1000)] [int] $Width = 120,
    [switch] $KeepImage
)

$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

function Invoke-Step([string] $Command, [scriptblock] $Action) {
    # Shows the command and its objects in their default views. A step this machine cannot run (no rpm
    # on a Debian laptop, say) says why in one sentence and the tour goes on.
    Write-Host ''
    Write-Host "PS> $Command" -ForegroundColor Cyan
    try { & $Action | Out-String -Stream -Width $Width | Out-Host }
    catch {
        $hint = if ($_.ErrorDetails.RecommendedAction) { " $($_.ErrorDetails.RecommendedAction)" } else { '' }
        Write-Host "Skipped here: $($_.Exception.Message)$hint" -ForegroundColor Yellow
    }
}

$image = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-demo-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
try {
    $null = New-Item -ItemType Directory -Path "$image/etc/systemd/system", "$image/etc/sysctl.d", "$image/usr/lib/systemd/system" -Force
    Copy-Item $OsRelease "$image/etc/os-release"
    # libvirt's own units as its package installs them: what Enable-Libvirtd enables in the image.
    $units = @{
        'libvirtd.service'      = "[Unit]`nDescription=libvirt legacy monolithic daemon`n[Service]`nExecStart=/usr/sbin/libvirtd`n[Install]`nWantedBy=multi-user.target`nAlso=libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket`n"
        'libvirtd.socket'       = "[Socket]`nListenStream=/run/libvirt/libvirt-sock`n[Install]`nWantedBy=sockets.target`n"
        'libvirtd-ro.socket'    = "[Socket]`nListenStream=/run/libvirt/libvirt-sock-ro`nService=libvirtd.service`n[Install]`nWantedBy=sockets.target`n"
        'libvirtd-admin.socket' = "[Socket]`nListenStream=/run/libvirt/libvirt-admin-sock`nService=libvirtd.service`n[Install]`nWantedBy=sockets.target`n"
    }
    foreach ($unit in $units.GetEnumerator()) { [IO.File]::WriteAllText("$image/usr/lib/systemd/system/$($unit.Key)", $unit.Value) }
    # The image's NIC as the installer configured it: New-HostBridge moves its address onto br0.
    $nicProfile = "$image/etc/NetworkManager/system-connections/enp1s0.nmconnection"
    $null = New-Item -ItemType Directory -Path (Split-Path $nicProfile) -Force
    [IO.File]::WriteAllText($nicProfile, "[connection]`
id=enp1s0`
type=ethernet`
interface-name=enp1s0`
`
[ipv4]`
address1=192.168.122.10/24`
gateway=192.168.122.1`
method=manual`
`
[ipv6]`
method=auto`
")
    [IO.File]::SetUnixFileMode($nicProfile, 'UserRead, UserWrite')
    Write-Host "A throw-away RHEL 9 image: $image" -ForegroundColor DarkGray

    $cpu = Test-KvmCpuSupport
    Invoke-Step '$cpu = Test-KvmCpuSupport; $cpu' { $cpu }
    $force = -not $cpu.Supported
    if ($force) { Write-Host "This CPU cannot run KVM guests ($($cpu.Status)); the image is prepared anyway with -Force." -ForegroundColor Yellow }

    Invoke-Step "`$cpu | Install-KvmPackages -Root `$image$(if ($force) { ' -Force' }) -WhatIf" {
        $cpu | Install-KvmPackages -Root $image -Force:$force -WhatIf
    }
    Invoke-Step 'Enable-Libvirtd -Root $image' { Enable-Libvirtd -Root $image }
    $bridge = $null
    Invoke-Step '$bridge = New-HostBridge br0 -Interface enp1s0 -Root $image; $bridge | Set-IpForwarding -AddressFamily Both -Root $image' {
        $script:bridge = New-HostBridge br0 -Interface enp1s0 -Root $image
        $bridge = $script:bridge
        $bridge | Out-String -Stream -Width $Width | Out-Host
        # The bridge's Name binds to -Uplink by property name.
        $bridge | Set-IpForwarding -AddressFamily Both -Root $image
    }
    # The guest step, previewed as a fresh host previews it: no libvirtd answers yet (an image runs none) and br0 is
    # only in the image. New-KvmGuest -WhatIf checks what this machine can tell, prints the exact virt-install command
    # and returns its preview, whose Blockers say what a real run would stop on and whose Notes say what only the
    # daemon can tell (the domain XML among them). On a host whose libvirtd answers, the XML is printed too. Either
    # way nothing changes: -WhatIf, and virt-install's log (if it runs for the XML) goes into the image.
    $kernel = "$image/boot/vmlinuz"
    $null = New-Item -ItemType Directory -Path (Split-Path $kernel) -Force
    [IO.File]::WriteAllText($kernel, 'a placeholder: -WhatIf never boots it')
    Write-Host ''
    Write-Host 'No libvirtd answers here and br0 is only in the image: the preview shows the virt-install command and lists both as blockers.' -ForegroundColor DarkGray
    $savedCache = $env:XDG_CACHE_HOME
    $env:XDG_CACHE_HOME = "$image/cache"
    try {
        Invoke-Step '$bridge | New-KvmGuest -Name vm01 -Kernel $image/boot/vmlinuz -MemoryBytes 1GB -DiskSizeBytes 20GB -AllowEmulation -WhatIf' {
            $bridge | New-KvmGuest -Name vm01 -Kernel $kernel -KernelArguments 'console=ttyS0' -MemoryBytes 1GB -DiskSizeBytes 20GB -AllowEmulation -WhatIf
        }
    }
    finally { $env:XDG_CACHE_HOME = $savedCache }

    Invoke-Step 'Test-KvmHost -Root $image -BridgeName br0   # the image: what it holds, not its runtime' {
        Test-KvmHost -Root $image -BridgeName br0
    }
    Invoke-Step 'Test-KvmHost        # this machine, read only' { Test-KvmHost }
}
finally {
    if ($KeepImage) { Write-Host "Kept the image: $image" } else { Remove-Item $image -Recurse -Force -ErrorAction Ignore }
}
