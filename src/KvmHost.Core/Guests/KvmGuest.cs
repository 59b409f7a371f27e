namespace KvmHost.Core.Guests;

/// <summary>libvirt's virDomainState, named as an admin reads them.</summary>
public enum GuestState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    ShuttingDown = 4,
    ShutOff = 5,
    Crashed = 6,
    PMSuspended = 7,
}

/// <summary>
/// One guest (libvirt domain) as Get-KvmGuest reports it: state only, read in bulk, never a change.
/// Sizes are bytes so that <c>2GB</c> literals compare; times are TimeSpans.
/// </summary>
public sealed record KvmGuest
{
    public required string Name { get; init; }
    public required Guid Uuid { get; init; }

    /// <summary>libvirt's runtime id; null while the guest is not running.</summary>
    public int? Id { get; init; }

    public required GuestState State { get; init; }

    /// <summary>Why it is in that state, in libvirt's words (Booted, Shutdown, Destroyed, Saved, User...).</summary>
    public required string StateReason { get; init; }

    public int ProcessorCount { get; init; }
    public int MaximumProcessorCount { get; init; }
    public long MemoryBytes { get; init; }
    public long MaximumMemoryBytes { get; init; }

    /// <summary>CPU time used since the guest started; null while it is not running or when the driver does not say.</summary>
    public TimeSpan? CpuTime { get; init; }

    /// <summary>
    /// Time since the guest's QEMU process started. Known only for a local connection (libvirt has no call
    /// for it; the process is found in /proc by the guest's UUID); null otherwise and while not running.
    /// </summary>
    public TimeSpan? Uptime { get; init; }

    public bool Autostart { get; init; }
    public bool Persistent { get; init; }
    public bool HasManagedSave { get; init; }

    public KvmGuestDisk[] Disks { get; init; } = [];
    public KvmGuestNetworkAdapter[] NetworkAdapters { get; init; } = [];

    /// <summary>The libosinfo short id (e.g. rhel9.2) derived from <see cref="OsInfoId"/>, as virt-install's --osinfo takes it.</summary>
    public string? OsVariant { get; init; }

    /// <summary>The libosinfo id virt-install recorded in the domain's metadata (e.g. http://redhat.com/rhel/9.2).</summary>
    public string? OsInfoId { get; init; }

    public string? Description { get; init; }

    /// <summary>The host the guest lives on, as libvirt names it (virConnectGetHostname).</summary>
    public required string ComputerName { get; init; }

    /// <summary>The libvirt URI the guest was read through; cmdlets that take this object act through it again.</summary>
    public required string Uri { get; init; }

    public override string ToString() => Name;
}

/// <summary>One disk of a guest: the domain XML's view, with sizes from libvirt's block statistics where known.</summary>
public sealed record KvmGuestDisk
{
    public required string GuestName { get; init; }

    /// <summary>The device name inside the guest's definition (vda, sda, hdc).</summary>
    public required string Target { get; init; }

    /// <summary>disk, cdrom, floppy or lun.</summary>
    public required string Device { get; init; }

    public string? Bus { get; init; }

    /// <summary>file, block, volume, network or dir.</summary>
    public required string Type { get; init; }

    /// <summary>The path, or pool/volume, or protocol:name; null for an empty CD-ROM drive.</summary>
    public string? Source { get; init; }

    /// <summary>The image format (qcow2, raw).</summary>
    public string? Format { get; init; }

    public bool ReadOnly { get; init; }
    public long? CapacityBytes { get; init; }
    public long? AllocationBytes { get; init; }

    public override string ToString() => $"{Target}: {Source}";
}

/// <summary>One network adapter of a guest, with the addresses libvirt knows for it.</summary>
public sealed record KvmGuestNetworkAdapter
{
    public required string GuestName { get; init; }
    public string? MacAddress { get; init; }

    /// <summary>bridge, network, direct, user...</summary>
    public required string Type { get; init; }

    /// <summary>The host bridge the adapter is plugged into (for a libvirt network: that network's bridge while the guest runs).</summary>
    public string? Bridge { get; init; }

    /// <summary>The libvirt network, for Type network.</summary>
    public string? Network { get; init; }

    public string? Model { get; init; }

    /// <summary>The host-side device (vnet0) while the guest runs.</summary>
    public string? Device { get; init; }

    /// <summary>Addresses from the libvirt network's DHCP leases, or from the guest agent where one is connected.</summary>
    public string[] IPAddresses { get; init; } = [];

    public override string ToString() => $"{MacAddress} {Bridge ?? Network}";
}
