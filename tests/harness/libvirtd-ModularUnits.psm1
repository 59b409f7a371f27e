<#
    RHEL-9-like unit files for libvirt's modular daemons, for systemd boxes built from a Debian machine
    (Debian ships only the monolithic libvirtd). Names, socket paths and [Install] sections follow
    libvirt's own virt${DRIVER}d units; the daemon behind each socket is Debian's real libvirtd, which
    claims systemd's sockets by their FileDescriptorName, so a connection to virtqemud-sock-ro gets a
    real libvirt answer. Only one stand-in may run at a time (they share libvirtd's pid file): tests
    connect to the qemu driver only.
#>
Set-StrictMode -Version Latest

function Get-ModularLibvirtUnitFiles {
    <#
    .SYNOPSIS
        Box path -> content for Start-TestBox -Content: virt<driver>d.service and its .socket, -ro.socket
        and -admin.socket under /etc/systemd/system for each driver.
    #>
    [OutputType([hashtable])]
    param([string[]] $Driver = @('qemu', 'network', 'nodedev', 'nwfilter', 'secret', 'storage'))
    $files = @{}
    foreach ($drv in $Driver) {
        $daemon = "virt${drv}d"
        $sockets = "$daemon.socket $daemon-ro.socket $daemon-admin.socket"
        $files["/etc/systemd/system/$daemon.service"] = @"
[Unit]
Description=Virtualization $drv daemon (stand-in: Debian's libvirtd behind the modular sockets)
Requires=$sockets
After=$sockets
Requires=virtlogd.socket virtlockd.socket

[Service]
Type=notify
ExecStart=/usr/sbin/libvirtd --timeout 120
KillMode=process
Restart=on-failure

[Install]
WantedBy=multi-user.target
Also=$sockets
Also=virtlogd.socket virtlockd.socket

"@
        $paths = @{ '' = "$daemon-sock"; '-ro' = "$daemon-sock-ro"; '-admin' = "$daemon-admin-sock" }
        foreach ($suffix in '', '-ro', '-admin') {
            $mode = if ($suffix -eq '-admin') { '0600' } else { '0666' }
            $files["/etc/systemd/system/$daemon$suffix.socket"] = @"
[Unit]
Description=Virtualization $drv daemon$suffix socket
Before=$daemon.service

[Socket]
ListenStream=/run/libvirt/$($paths[$suffix])
Service=$daemon.service
SocketMode=$mode
FileDescriptorName=libvirtd$suffix.socket
RemoveOnStop=yes

[Install]
WantedBy=sockets.target

"@
        }
    }
    $files
}

Export-ModuleMember -Function Get-ModularLibvirtUnitFiles
