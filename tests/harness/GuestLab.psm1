<#
    The guest lab for Pester tests: a throw-away libvirtd of the test's own (guestlab.sh) and the
    smallest real guest (tiny-guest.sh), booted by real QEMU under TCG. See GuestLab.md.

        $lab = Start-GuestLab
        $guest = New-LabGuest -Lab $lab -Name web1 -Start
        Wait-LabGuestConsole -Lab $lab -Name web1 -Pattern 'KVMHOST-GUEST-READY'
        Invoke-GuestLabVirsh -Lab $lab -ArgumentList shutdown, web1     # virsh: a fixture tool only
        Stop-GuestLab -Lab $lab                                          # throws if anything is left

    Clients on the machine reach the lab's daemon through $lab.Uri (qemu+unix:///system?socket=...);
    commands run with Invoke-InGuestLab (or $lab.ExecCommand + argv) see it as qemu:///system.
#>
Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot 'Harness.psm1')

$script:LabScript = Join-Path $PSScriptRoot 'guestlab.sh'
$script:ImageScript = Join-Path $PSScriptRoot 'tiny-guest.sh'
# Gitignored: the downloaded .debs and the built image survive between runs, so reruns download nothing.
$script:DefaultCachePath = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../.cache'))
# Labs this session started, stopped if the module is removed before the tests stop them.
$script:Started = [System.Collections.Generic.HashSet[string]]::new()
# Where the lab keeps the tiny guest's kernel, as its daemon sees it.
$script:LabBootPath = '/var/lib/libvirt/boot'
$script:GuestNamePattern = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$'

function Test-GuestLabSupported {
    <#
    .SYNOPSIS
        $null when guest labs can run here; otherwise why not, for Set-ItResult -Skipped -Because.
    #>
    [OutputType([string])]
    param([string] $CachePath = $script:DefaultCachePath)
    if (-not $IsLinux) { return 'guest labs need Linux' }
    if (-not (Test-HarnessRoot)) { return 'guest labs need root (pid, mount and network namespaces; libvirtd runs as root)' }
    $missing = Get-HarnessMissingCommand bash, unshare, nsenter, mount, mknod, ip, setsid
    if ($missing) { return "guest labs need '$missing' (util-linux, iproute2), which is not on PATH" }
    $missing = Get-HarnessMissingCommand libvirtd, virtlogd, virsh, qemu-system-x86_64, qemu-img
    if ($missing) {
        return "guest labs need '$missing' (Debian packages libvirt-daemon-system, libvirt-clients, qemu-system-x86, qemu-utils), which is not on PATH"
    }
    if (-not (Get-ChildItem -Path $CachePath -Filter 'tiny-guest-*' -Directory -ErrorAction Ignore)) {
        $missing = Get-HarnessMissingCommand apt-get, apt-cache, dpkg-deb, gzip, sha256sum, flock
        if ($missing) { return "building the tiny guest needs '$missing' (it downloads Debian packages), which is not on PATH" }
    }
    # Root in a container can still be refused new namespaces (seccomp, no CAP_SYS_ADMIN).
    $probe = Invoke-HarnessProcess unshare '--fork', '--pid', '--mount', '--net', '--propagation', 'private', 'true' -TimeoutSec 10 -AllowFailure
    if ($probe.ExitCode -ne 0) { return "unshare cannot create pid/mount/net namespaces here: $($probe.StdErr.Trim())" }
    $null
}

function Get-TinyGuestKernelArguments {
    # The serial console is the tests' window into the guest; panic=-1 turns a kernel panic into an
    # immediate reboot instead of a hung guest. tiny-guest.sh reads kvmhost.name and kvmhost.noacpi.
    param([string] $Variant, [string] $Name)
    'console=ttyS0 panic=-1' + $(if ($Name) { " kvmhost.name=$Name" }) + $(if ($Variant -eq 'noacpi') { ' kvmhost.noacpi' })
}

function Get-TinyGuestImage {
    <#
    .SYNOPSIS
        The tiny guest's kernel and initramfs (built on first use from Debian packages, then cached) and
        the kernel command line of a variant: acpi powers off on an ACPI shutdown, noacpi ignores it.
    .OUTPUTS
        Kernel, Initrd (host paths), KernelVersion, Variant, KernelArguments, Built ($false: from the cache).
    #>
    [OutputType([pscustomobject])]
    param(
        [ValidateSet('acpi', 'noacpi')] [string] $Variant = 'acpi',
        [string] $CachePath = $script:DefaultCachePath
    )
    # The first build downloads about 28 MB; later calls only hash the script.
    $result = Invoke-HarnessProcess bash $script:ImageScript, 'build', $CachePath -TimeoutSec 900
    $built = ConvertFrom-HarnessKeyValue $result.Output
    [pscustomobject]@{
        PSTypeName      = 'KvmHost.Harness.TinyGuestImage'
        Kernel          = $built.KERNEL
        Initrd          = $built.INITRD
        KernelVersion   = $built.KERNEL_VERSION
        Variant         = $Variant
        KernelArguments = Get-TinyGuestKernelArguments -Variant $Variant
        Built           = $built.BUILT -eq '1'
    }
}

function Start-GuestLab {
    <#
    .SYNOPSIS
        Starts a lab (its own libvirtd, virtlogd, a "default" dir pool) with the tiny guest's kernel in
        its /var/lib/libvirt/boot, and returns it.
    .OUTPUTS
        Name, Directory, Uri, SocketPath, ImagesPath (host path of the default pool), LabImagesPath,
        LogPath (host path of its /var/log/libvirt), Kernel, Initrd (paths in the lab), KernelVersion,
        ExecCommand (argv prefix that runs a command inside), Environment (LIBVIRT_DEFAULT_URI for clients
        on the machine), Network (the NAT network's name with -Network), Pid, PidNamespace, NetNamespace,
        StartTime.
    #>
    [OutputType([pscustomobject])]
    param(
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$')]
        [string] $Name = ('kvmgl' + [guid]::NewGuid().ToString('N').Substring(0, 8)),
        [ValidateRange(5, 600)] [int] $TimeoutSec = 60,
        # Also define and start the libvirt NAT network "default" (see Add-GuestLabNetwork).
        [switch] $Network
    )
    # The image first: a failed download leaves no lab behind.
    $image = Get-TinyGuestImage
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $null = $script:Started.Add($Name)
    try {
        $result = Invoke-HarnessProcess bash $script:LabScript, 'start', $Name, '--timeout', "$TimeoutSec" -TimeoutSec ($TimeoutSec + 30)
        $started = ConvertFrom-HarnessKeyValue $result.Output
        foreach ($file in @{ 'tiny-vmlinuz' = $image.Kernel; 'tiny-initrd.gz' = $image.Initrd }.GetEnumerator()) {
            [IO.File]::Copy($file.Value, (Join-Path $started.BOOT $file.Key), $true)
        }
        if ($Network) { $null = Add-GuestLabNetwork -Uri $started.URI -Directory $started.DIR }
    }
    catch {
        try { Stop-GuestLab -Name $Name } catch { Write-Warning "cleaning up lab '$Name': $_" }
        throw
    }
    [pscustomobject]@{
        PSTypeName    = 'KvmHost.Harness.GuestLab'
        Name          = $Name
        Directory     = $started.DIR
        Uri           = $started.URI
        SocketPath    = $started.SOCKET
        ImagesPath    = $started.IMAGES
        LabImagesPath = '/var/lib/libvirt/images'
        LogPath       = $started.LOGS
        Kernel        = "$script:LabBootPath/tiny-vmlinuz"
        Initrd        = "$script:LabBootPath/tiny-initrd.gz"
        KernelVersion = $image.KernelVersion
        ExecCommand   = [string[]] @('bash', $script:LabScript, 'exec', $Name, '--')
        Environment   = @{ LIBVIRT_DEFAULT_URI = $started.URI }
        Pid           = [int] $started.PID
        Network       = $(if ($Network) { 'default' })
        PidNamespace  = [long] $started.PIDNS
        NetNamespace  = [long] $started.NETNS
        StartTime     = $clock.Elapsed
    }
}

function Add-GuestLabNetwork {
    <#
    .SYNOPSIS
        Defines, autostarts and starts a libvirt NAT network in the lab (its bridge, dnsmasq and firewall
        rules live in the lab's network and pid namespaces) and returns its name. Guests on it get a
        DHCP lease that libvirt reports (virsh domifaddr --source lease); the tiny guest prints
        "KVMHOST-NET eth0 <address>" when it has one.
    .PARAMETER Prefix
        The first three octets of its /24; the default is TEST-NET-3 (RFC 5737), which NetLab (TEST-NET-1)
        and the fleet (TEST-NET-2) do not use. The gateway is .1, leases are .100-.200.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Lab')]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Lab', Position = 0)] [pscustomobject] $Lab,
        [Parameter(Mandatory, ParameterSetName = 'Uri')] [string] $Uri,
        [Parameter(Mandatory, ParameterSetName = 'Uri')] [string] $Directory,
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$')] [string] $Name = 'default',
        [ValidatePattern('^\d{1,3}\.\d{1,3}\.\d{1,3}$')] [string] $Prefix = '203.0.113',
        # At most 15 bytes: a Linux interface name.
        [ValidatePattern('^[A-Za-z0-9_.-]{1,15}$')] [string] $BridgeName = 'virbr0'
    )
    if ($Lab) { $Uri = $Lab.Uri; $Directory = $Lab.Directory }
    $xmlPath = Join-Path $Directory "network-$Name.xml"
    [IO.File]::WriteAllText($xmlPath, @"
<network>
  <name>$Name</name>
  <forward mode='nat'/>
  <bridge name='$BridgeName' stp='off' delay='0'/>
  <ip address='$Prefix.1' netmask='255.255.255.0'>
    <dhcp><range start='$Prefix.100' end='$Prefix.200'/></dhcp>
  </ip>
</network>
"@)
    foreach ($step in @(@('net-define', $xmlPath), @('net-autostart', $Name), @('net-start', $Name))) {
        $null = Invoke-HarnessProcess virsh (@('-q', '-c', $Uri) + $step) -TimeoutSec 60
    }
    $Name
}

function Stop-GuestLab {
    <#
    .SYNOPSIS
        Kills everything the lab started and removes its folder; throws naming whatever is left behind
        (a process of its pid namespace, an `ip netns` name for its network, a cgroup of one of its
        guests, its folder). A lab that is not there is no error.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Lab')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Lab', Position = 0, ValueFromPipeline)] [pscustomobject] $Lab,
        [Parameter(Mandatory, ParameterSetName = 'Name')] [string] $Name
    )
    process {
        if ($Lab) { $Name = $Lab.Name }
        try {
            $null = Invoke-HarnessProcess bash $script:LabScript, 'stop', $Name -TimeoutSec 60
        }
        finally {
            $null = $script:Started.Remove($Name)
        }
    }
}

function Invoke-InGuestLab {
    <#
    .SYNOPSIS
        Runs a command inside the lab (its mount, net and pid namespaces: qemu:///system is the lab's
        daemon) and returns ExitCode, Output, StdOut, StdErr. Throws on a non-zero exit unless -AllowFailure.
    .EXAMPLE
        Invoke-InGuestLab $lab -Command (@(Get-HarnessPwshCommand) + '-NoProfile', '-Command', 'virsh list --all')
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Lab,
        [Parameter(Mandatory, Position = 1)] [string[]] $Command,
        [hashtable] $Environment = @{},
        [switch] $AllowFailure,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 300
    )
    Invoke-HarnessProcess $Lab.ExecCommand[0] (@($Lab.ExecCommand | Select-Object -Skip 1) + $Command) `
        -Environment $Environment -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
}

function Invoke-GuestLabVirsh {
    <#
    .SYNOPSIS
        virsh against the lab's daemon from the machine (a fixture tool for tests; the product never
        uses virsh). Throws on a non-zero exit unless -AllowFailure.
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Lab,
        [Parameter(Mandatory, Position = 1)] [string[]] $ArgumentList,
        [switch] $AllowFailure,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 120
    )
    Invoke-HarnessProcess virsh (@('-q', '-c', $Lab.Uri) + $ArgumentList) -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
}

function New-LabGuestXml {
    <#
    .SYNOPSIS
        The domain XML of a tiny guest: TCG (type='qemu'), q35, direct kernel boot with the lab's kernel
        and initramfs, ACPI, a pty serial console logged to /var/log/libvirt/qemu/NAME-serial.log, no
        balloon; optionally a volume of the default pool as vda (qcow2 or raw; -FileDisk: the same image
        as a plain file disk), a NIC, UEFI firmware (-Uefi) or no serial console at all (-NoSerial).
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [pscustomobject] $Lab,
        [Parameter(Mandatory)] [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$')] [string] $Name,
        [ValidateSet('acpi', 'noacpi')] [string] $Variant = 'acpi',
        [ValidateRange(64, 4096)] [int] $MemoryMiB = 256,
        [ValidateRange(1, 8)] [int] $ProcessorCount = 1,
        # A volume of the default pool, attached as vda (virtio).
        [string] $Volume,
        [ValidateSet('qcow2', 'raw')] [string] $DiskFormat = 'qcow2',
        # The volume as <disk type='file'> (its path in the lab) instead of <disk type='volume'>: external
        # snapshots need a file source.
        [switch] $FileDisk,
        # A libvirt network (in the lab) or a bridge (in the lab's network namespace) for one virtio NIC.
        [string] $Network,
        [string] $Bridge,
        [string] $Description,
        # <os firmware='efi'>: libvirt picks OVMF from the firmware descriptors (Debian package ovmf) and
        # gives the guest a pflash NVRAM file. The tiny kernel still boots directly.
        [switch] $Uefi,
        # No <serial> and no <console>: a guest without a serial console (it is for definitions; its /init
        # writes to a console it does not have).
        [switch] $NoSerial
    )
    $escape = { param($text) [System.Security.SecurityElement]::Escape($text) }
    $arguments = Get-TinyGuestKernelArguments -Variant $Variant -Name $Name
    $disk = if ($Volume -and $FileDisk) {
        @"

    <disk type='file' device='disk'>
      <driver name='qemu' type='$DiskFormat'/>
      <source file='$($Lab.LabImagesPath)/$(& $escape $Volume)'/>
      <target dev='vda' bus='virtio'/>
    </disk>
"@
    }
    elseif ($Volume) {
        @"

    <disk type='volume' device='disk'>
      <driver name='qemu' type='$DiskFormat'/>
      <source pool='default' volume='$(& $escape $Volume)'/>
      <target dev='vda' bus='virtio'/>
    </disk>
"@
    }
    $nic = if ($Network) {
        "`n    <interface type='network'><source network='$(& $escape $Network)'/><model type='virtio'/></interface>"
    }
    elseif ($Bridge) {
        "`n    <interface type='bridge'><source bridge='$(& $escape $Bridge)'/><model type='virtio'/></interface>"
    }
    $descriptionElement = if ($Description) { "`n  <description>$(& $escape $Description)</description>" }
    $serial = if (-not $NoSerial) {
        @"

    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/$Name-serial.log' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
"@
    }
    @"
<domain type='qemu'>
  <name>$Name</name>$descriptionElement
  <memory unit='MiB'>$MemoryMiB</memory>
  <vcpu>$ProcessorCount</vcpu>
  <os$(if ($Uefi) { " firmware='efi'" })>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$($Lab.Kernel)</kernel>
    <initrd>$($Lab.Initrd)</initrd>
    <cmdline>$arguments</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>$disk$nic$serial
    <memballoon model='none'/>
  </devices>
</domain>
"@
}

function New-LabGuest {
    <#
    .SYNOPSIS
        Defines a tiny guest in the lab (and a volume for it, qcow2 unless -DiskFormat raw, unless
        -DiskSizeMiB 0) and, with -Start, starts it. Returns Name, Variant, Volume, SerialLogPath (host
        path) and XmlPath. -FileDisk, -Uefi, -NoSerial: see New-LabGuestXml.
    .PARAMETER DiskText
        The disk's first line, which the guest prints at boot as "KVMHOST-DISK <text>".
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)] [pscustomobject] $Lab,
        [Parameter(Mandatory)] [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$')] [string] $Name,
        [ValidateSet('acpi', 'noacpi')] [string] $Variant = 'acpi',
        [ValidateRange(64, 4096)] [int] $MemoryMiB = 256,
        [ValidateRange(1, 8)] [int] $ProcessorCount = 1,
        [ValidateRange(0, 4096)] [int] $DiskSizeMiB = 16,
        [ValidatePattern('^[^\r\n]*$')] [string] $DiskText,
        [ValidateSet('qcow2', 'raw')] [string] $DiskFormat = 'qcow2',
        [switch] $FileDisk,
        [string] $Network,
        [string] $Bridge,
        [string] $Description,
        [switch] $Uefi,
        [switch] $NoSerial,
        [switch] $Start
    )
    $volume = $null
    if ($DiskSizeMiB -gt 0) {
        $volume = "$Name.$DiskFormat"
        if ($PSBoundParameters.ContainsKey('DiskText')) {
            # qemu-img writes the text into a fresh image next to the pool's files; a refresh adopts it.
            $raw = Join-Path $Lab.Directory "$Name.raw"
            [IO.File]::WriteAllText($raw, "$DiskText`n")
            $stream = [IO.File]::OpenWrite($raw)
            try { $stream.SetLength([long] $DiskSizeMiB * 1MB) } finally { $stream.Dispose() }
            try {
                $null = Invoke-HarnessProcess qemu-img 'convert', '-f', 'raw', '-O', $DiskFormat, $raw, (Join-Path $Lab.ImagesPath $volume)
            }
            finally { Remove-Item -LiteralPath $raw }
            $null = Invoke-GuestLabVirsh $Lab 'pool-refresh', 'default'
        }
        else {
            $null = Invoke-GuestLabVirsh $Lab 'vol-create-as', 'default', $volume, "${DiskSizeMiB}M", '--format', $DiskFormat
        }
    }
    $xmlParameters = @{ Lab = $Lab; Name = $Name; Variant = $Variant; MemoryMiB = $MemoryMiB; ProcessorCount = $ProcessorCount; DiskFormat = $DiskFormat }
    foreach ($optional in 'Network', 'Bridge', 'Description', 'FileDisk', 'Uefi', 'NoSerial') {
        if ($PSBoundParameters.ContainsKey($optional)) { $xmlParameters[$optional] = $PSBoundParameters[$optional] }
    }
    if ($volume) { $xmlParameters.Volume = $volume }
    $xmlPath = Join-Path $Lab.Directory "guest-$Name.xml"
    [IO.File]::WriteAllText($xmlPath, (New-LabGuestXml @xmlParameters))
    $null = Invoke-GuestLabVirsh $Lab 'define', $xmlPath
    if ($Start) { $null = Invoke-GuestLabVirsh $Lab 'start', $Name }
    [pscustomobject]@{
        PSTypeName    = 'KvmHost.Harness.LabGuest'
        Name          = $Name
        Variant       = $Variant
        Volume        = $volume
        SerialLogPath = Get-LabGuestConsolePath -Lab $Lab -Name $Name
        XmlPath       = $xmlPath
    }
}

function Get-LabGuestConsolePath {
    # Host path of the serial log New-LabGuestXml gives a guest (/var/log/libvirt/qemu/NAME-serial.log).
    param([Parameter(Mandatory)] [pscustomobject] $Lab, [Parameter(Mandatory)] [string] $Name)
    Join-Path $Lab.LogPath "qemu/$Name-serial.log"
}

function Get-LabGuestConsole {
    <#
    .SYNOPSIS
        The lines a guest wrote on its serial console so far (every boot of it, appended), or none;
        terminal escape sequences and control characters removed.
    #>
    [OutputType([string[]])]
    param([Parameter(Mandatory)] [pscustomobject] $Lab, [Parameter(Mandatory)] [string] $Name)
    $path = Get-LabGuestConsolePath -Lab $Lab -Name $Name
    if (-not (Test-Path -LiteralPath $path)) { return }
    # Shared read: virtlogd keeps the file open for writing.
    $stream = [IO.FileStream]::new($path, [IO.FileMode]::Open, [IO.FileAccess]::Read, [IO.FileShare]::ReadWrite)
    try { $text = [IO.StreamReader]::new($stream).ReadToEnd() } finally { $stream.Dispose() }
    # Terminal escapes (the shell asks for the cursor position at every prompt) and other control
    # characters would only get in the way of matching, and XML test reports refuse them.
    $text = $text -replace '\x1b\[[0-9;?]*[A-Za-z]', '' -replace '[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]', ''
    $text -split "\r?\n"
}

function Wait-LabGuestConsole {
    <#
    .SYNOPSIS
        Waits until a line of the guest's serial log matches Pattern (a regex) for the Occurrence-th
        time, and returns that line; throws at the timeout with the state and the log's last lines.
    .EXAMPLE
        Wait-LabGuestConsole -Lab $lab -Name web1 -Pattern '^KVMHOST-GUEST-READY' -Occurrence 2   # after a reboot
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [pscustomobject] $Lab,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Pattern,
        [ValidateRange(1, 1000)] [int] $Occurrence = 1,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 120
    )
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        $lines = @(Get-LabGuestConsole -Lab $Lab -Name $Name)
        $found = @($lines | Where-Object { $_ -match $Pattern })
        if ($found.Count -ge $Occurrence) { return $found[$Occurrence - 1] }
        if ([DateTime]::UtcNow -ge $deadline) { break }
        Start-Sleep -Milliseconds 100
    }
    $state = (Invoke-GuestLabVirsh $Lab 'domstate', '--reason', $Name -AllowFailure).StdOut.Trim()
    throw ("guest '$Name' printed /$Pattern/ $($found.Count) time(s), not $Occurrence, within $TimeoutSec s " +
        "(state: $state); its console ends with:`n$(($lines | Select-Object -Last 15) -join "`n")")
}

function Send-LabGuestConsole {
    <#
    .SYNOPSIS
        Types a line (and Enter) on a running guest's serial console, where its shell reads.
    .EXAMPLE
        Send-LabGuestConsole -Lab $lab -Name web1 -Text 'echo KVMHOST-ECHO-$((6*7))'
    #>
    param(
        [Parameter(Mandatory)] [pscustomobject] $Lab,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [ValidatePattern('^[^\r\n]*$')] [string] $Text
    )
    $null = Invoke-HarnessProcess bash $script:LabScript, 'console', $Lab.Name, $Name, $Text -TimeoutSec 60
}

function Get-GuestLabMedia {
    <#
    .SYNOPSIS
        The tiny guest's kernel and initramfs at a path that is the same on the machine and in the lab
        (under the lab's folder in /tmp, which the lab shares), for tools that check a path where they run
        and hand it to libvirt, which opens it in the lab (virt-install, New-KvmGuest). Returns Folder,
        Kernel, Initrd. The folder goes with the lab.
    #>
    [OutputType([pscustomobject])]
    param([Parameter(Mandatory, Position = 0)] [pscustomobject] $Lab)
    $folder = Join-Path $Lab.Directory 'media'
    $null = New-Item -ItemType Directory -Path $folder -Force
    # libvirt-qemu must reach the files (libvirt's DAC driver gives it each file while the guest runs).
    [IO.File]::SetUnixFileMode($folder, [IO.UnixFileMode] 0x1ED) # 0755
    $boot = Join-Path $Lab.Directory 'var-lib-libvirt/boot'
    foreach ($file in @{ vmlinuz = 'tiny-vmlinuz'; 'initrd.gz' = 'tiny-initrd.gz' }.GetEnumerator()) {
        [IO.File]::Copy((Join-Path $boot $file.Value), (Join-Path $folder $file.Key), $true)
    }
    [pscustomobject]@{ Folder = $folder; Kernel = Join-Path $folder 'vmlinuz'; Initrd = Join-Path $folder 'initrd.gz' }
}

function Get-GuestLabInventory {
    <#
    .SYNOPSIS
        What the lab's libvirt holds, to compare before and after a step that must leave nothing behind:
        Guests (names), Volumes (of the default pool), Pools (names), Files (under the lab's images, nvram,
        save and snapshot folders, as paths in the lab) and Processes (QEMU processes, by guest name).
    #>
    [OutputType([pscustomobject])]
    param([Parameter(Mandatory, Position = 0)] [pscustomobject] $Lab)
    $lines = { param($arguments) @((Invoke-GuestLabVirsh $Lab $arguments).Output | Where-Object { $_ } | ForEach-Object { $_.Trim() } | Sort-Object) }
    $files = foreach ($folder in 'images', 'qemu/nvram', 'qemu/save', 'qemu/snapshot', 'boot') {
        $hostFolder = Join-Path $Lab.Directory "var-lib-libvirt/$folder"
        if (Test-Path -LiteralPath $hostFolder) {
            Get-ChildItem -LiteralPath $hostFolder -Recurse -Force -File | ForEach-Object { "/var/lib/libvirt/$folder/" + [IO.Path]::GetRelativePath($hostFolder, $_.FullName) }
        }
    }
    $processes = @(Get-ChildItem /proc -Directory -ErrorAction Ignore | Where-Object Name -match '^\d+$' | ForEach-Object {
        $cmdline = try { [IO.File]::ReadAllText("$($_.FullName)/cmdline") } catch { '' }
        # A QEMU process of this lab: its pid namespace is the lab's.
        if ($cmdline -match 'qemu-system' -and $cmdline -match 'guest=([^,\x00]+)') {
            $guest = $Matches[1]
            $ns = try { (Get-Item "$($_.FullName)/ns/pid" -Force).LinkTarget } catch { '' }
            if ($ns -eq "pid:[$($Lab.PidNamespace)]") { $guest }
        }
    } | Sort-Object)
    [pscustomobject]@{
        Guests    = & $lines @('list', '--all', '--name')
        Volumes   = @(& $lines @('vol-list', 'default') | ForEach-Object { ($_ -split '\s+')[0] })
        Pools     = & $lines @('pool-list', '--all', '--name')
        Files     = @($files | Sort-Object)
        Processes = $processes
    }
}

function Invoke-GuestLabPwsh {
    <#
    .SYNOPSIS
        Runs a PowerShell script in a child pwsh inside the lab (qemu:///system is the lab's daemon, and
        `ip` sees the lab's network) with a module imported, and returns what the script output
        (Output, through JSON) and what it raised: ErrorIds (FullyQualifiedErrorId of each error, the
        terminating one last), Warnings (their messages).
    .EXAMPLE
        (Invoke-GuestLabPwsh $lab -ModulePath $module -Script 'Get-KvmGuest | ForEach-Object Name').Output
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Lab,
        [Parameter(Mandatory)] [string] $ModulePath,
        [Parameter(Mandatory)] [string] $Script,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 300
    )
    $file = Join-Path $Lab.Directory ("script-" + [guid]::NewGuid().ToString('N') + '.ps1')
    [IO.File]::WriteAllText($file, @"
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$ModulePath'
`$all = [System.Collections.Generic.List[object]]::new()
try { & { $Script } 2>&1 3>&1 | ForEach-Object { `$all.Add(`$_) } } catch { `$all.Add(`$_) }
`$result = @{
    ErrorIds = @(`$all | Where-Object { `$_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object FullyQualifiedErrorId)
    Warnings = @(`$all | Where-Object { `$_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object Message)
    Output   = @(`$all | Where-Object { `$_ -isnot [System.Management.Automation.ErrorRecord] -and `$_ -isnot [System.Management.Automation.WarningRecord] })
}
'@@JSON@@' + (`$result | ConvertTo-Json -Depth 6 -Compress)
"@)
    try {
        $run = Invoke-InGuestLab $Lab -Command (@(Get-HarnessPwshCommand) + '-NoProfile', '-NonInteractive', '-File', $file) `
            -Environment @{ LIBVIRT_DEFAULT_URI = $null; NO_COLOR = '1' } -TimeoutSec $TimeoutSec -AllowFailure
        $line = $run.Output | Where-Object { $_.StartsWith('@@JSON@@') } | Select-Object -Last 1
        if (-not $line) { throw "no result from the pwsh in lab '$($Lab.Name)' (exit $($run.ExitCode)): $($run.StdOut) $($run.StdErr)" }
        $line.Substring(8) | ConvertFrom-Json
    }
    finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
}

function Get-LabGuestState {
    <#
    .SYNOPSIS
        The guest's state in virsh's words (running, paused, shut off), from the lab's daemon.
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)] [pscustomobject] $Lab, [Parameter(Mandatory)] [string] $Name)
    (Invoke-GuestLabVirsh $Lab 'domstate', $Name).StdOut.Trim()
}

function Get-LabGuestConsoleCount {
    <#
    .SYNOPSIS
        How many lines of the guest's serial log match Pattern (a regex): a count taken before an action,
        so that the action's line is awaited as the next occurrence.
    #>
    [OutputType([int])]
    param([Parameter(Mandatory)] [pscustomobject] $Lab, [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Pattern)
    @(Get-LabGuestConsole -Lab $Lab -Name $Name | Where-Object { $_ -match $Pattern }).Count
}

function Set-LabGuestRunning {
    <#
    .SYNOPSIS
        Brings a guest to running (resumes it, or starts it) and waits until every boot its kernel began has
        printed KVMHOST-GUEST-READY: only then do acpid and the console's shell listen.
    #>
    param([Parameter(Mandatory)] [pscustomobject] $Lab, [Parameter(Mandatory)] [string] $Name, [ValidateRange(1, 3600)] [int] $TimeoutSec = 120)
    $ready = '^KVMHOST-GUEST-READY '
    $boots = Get-LabGuestConsoleCount -Lab $Lab -Name $Name -Pattern $ready
    switch (Get-LabGuestState -Lab $Lab -Name $Name) {
        'paused' { $null = Invoke-GuestLabVirsh $Lab 'resume', $Name }
        'shut off' { $null = Invoke-GuestLabVirsh $Lab 'start', $Name; $boots++ }
    }
    # A guest another test started may still be booting too.
    $begun = Get-LabGuestConsoleCount -Lab $Lab -Name $Name -Pattern '\] Run /init as init process'
    $null = Wait-LabGuestConsole -Lab $Lab -Name $Name -Pattern $ready -Occurrence ([Math]::Max([Math]::Max($boots, $begun), 1)) -TimeoutSec $TimeoutSec
}

function Set-LabGuestOff {
    <#
    .SYNOPSIS
        Powers a guest off unless it is off (virsh destroy), and drops a managed-save image it may have.
    #>
    param([Parameter(Mandatory)] [pscustomobject] $Lab, [Parameter(Mandatory)] [string] $Name)
    if ((Get-LabGuestState -Lab $Lab -Name $Name) -ne 'shut off') { $null = Invoke-GuestLabVirsh $Lab 'destroy', $Name }
    $null = Invoke-GuestLabVirsh $Lab 'managedsave-remove', $Name -AllowFailure
}

$ExecutionContext.SessionState.Module.OnRemove = {
    foreach ($name in @($script:Started)) {
        try { Stop-GuestLab -Name $name } catch { Write-Warning "$_" }
    }
}

Export-ModuleMember -Function Test-GuestLabSupported, Get-TinyGuestImage, Start-GuestLab, Add-GuestLabNetwork, Stop-GuestLab,
    Invoke-InGuestLab, Invoke-GuestLabVirsh, New-LabGuestXml, New-LabGuest, Get-LabGuestConsole,
    Wait-LabGuestConsole, Send-LabGuestConsole, Get-GuestLabMedia, Get-GuestLabInventory, Invoke-GuestLabPwsh,
    Get-LabGuestState, Get-LabGuestConsoleCount, Set-LabGuestRunning, Set-LabGuestOff
