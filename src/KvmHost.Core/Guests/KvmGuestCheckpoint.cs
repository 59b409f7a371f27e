namespace KvmHost.Core.Guests;

/// <summary>libvirt's virDomainSnapshotState: the guest's state when the checkpoint was taken.</summary>
public enum GuestCheckpointState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    ShuttingDown = 4,
    ShutOff = 5,
    Crashed = 6,
    PMSuspended = 7,

    /// <summary>A disk-only (external) snapshot of a running guest: its disks, not its memory.</summary>
    DiskOnly = 8,
}

/// <summary>
/// Where a checkpoint keeps its data. Internal: inside the guest's qcow2 images (disks and, for a running guest,
/// memory), which is what Checkpoint-KvmGuest takes. External: new overlay files (and a memory file), as
/// virsh snapshot-create-as --disk-only or virt-manager make them for UEFI guests; listed, restored where the
/// daemon can (libvirt 9.7 and later), removed.
/// </summary>
public enum GuestCheckpointKind { Internal, External }

/// <summary>
/// One checkpoint (libvirt snapshot) of a guest, with its place in the guest's tree of checkpoints. Read-side only:
/// Get-KvmGuestCheckpoint describes, the other checkpoint cmdlets change.
/// </summary>
public sealed record KvmGuestCheckpoint
{
    public required string GuestName { get; init; }
    public required string Name { get; init; }

    /// <summary>The checkpoint this one was taken after (its parent in the tree); null for a root.</summary>
    public string? Parent { get; init; }

    /// <summary>The checkpoints taken after this one from its state, oldest first.</summary>
    public string[] Children { get; init; } = [];

    /// <summary>How far down the tree it is (0: a root), for views that indent.</summary>
    public int Depth { get; init; }

    /// <summary>The checkpoint the guest last came from (taken or restored): the parent of the next one.</summary>
    public bool IsCurrent { get; init; }

    /// <summary>When it was taken, in this machine's local time (so it compares with Get-Date).</summary>
    public DateTime Created { get; init; }

    /// <summary>The guest's state when it was taken: the state Restore-KvmGuestCheckpoint brings the guest back to.</summary>
    public GuestCheckpointState State { get; init; }

    /// <summary>The checkpoint holds the guest's memory (taken while it ran or was paused): a restore continues, it does not boot.</summary>
    public bool HasMemory { get; init; }

    public GuestCheckpointKind Kind { get; init; }

    /// <summary>
    /// The saved memory's size as the qcow2 image records it (qemu-img snapshot -l shows it as VM SIZE); 0 for a
    /// checkpoint without memory. Disk changes are not counted: an internal checkpoint shares its disk clusters
    /// with the image. Null when the images cannot be read from here (another host, not root) or for an external one.
    /// </summary>
    public long? SizeBytes { get; init; }

    public string? Description { get; init; }

    public required Guid GuestUuid { get; init; }

    /// <summary>The host the guest lives on, as libvirt names it.</summary>
    public required string ComputerName { get; init; }

    /// <summary>The libvirt URI it was read through; the checkpoint cmdlets act through it again.</summary>
    public required string Uri { get; init; }

    public override string ToString() => $"{GuestName}: {Name}";
}
