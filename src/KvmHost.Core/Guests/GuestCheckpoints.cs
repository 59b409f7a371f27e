using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>A checkpoint about to be taken: its name, and what -WhatIf, -Confirm and -Verbose say about it.</summary>
public sealed record CheckpointRequest(string Name, string? Description, string Action, IReadOnlyList<string> Warnings);

/// <summary>
/// Checkpoints are libvirt snapshots, and the ones KvmHost takes are internal: disks (and, for a running or paused
/// guest, memory) saved inside the guest's qcow2 images in one atomic step. Why internal: libvirt reverts them on
/// every release KvmHost supports (RHEL 7's 4.5 to RHEL 10's), a running guest comes back running from the very
/// moment it was taken (Hyper-V's standard checkpoint), and nothing new appears next to the images. External
/// snapshots (overlay files) could be taken of more guests, but libvirt reverts them only from 9.7 on (RHEL 8's 8.0,
/// RHEL 9.2's and Debian 12's 9.0 cannot) and deletes them only with restrictions; a checkpoint that cannot be
/// restored is not one.
/// External snapshots made by other tools are listed, restored where the daemon's libvirt can, and removed.
/// What internal checkpoints cannot do is refused before anything changes: a disk that is not qcow2 (raw keeps no
/// snapshots), and a running or paused UEFI guest (libvirt cannot save memory next to a pflash variable store).
/// </summary>
public static class GuestCheckpoints
{
    /// <summary>The first libvirt that reverts external snapshots (qemu driver, 2023-09).</summary>
    public static readonly Version ExternalRestoreSince = new(9, 7, 0);

    /// <summary>A guest's checkpoints as a tree: each root, then its descendants depth first, siblings oldest first.</summary>
    public static IReadOnlyList<KvmGuestCheckpoint> List(GuestEntry guest)
    {
        var connection = guest.Connection;
        var snapshots = connection.ListSnapshots(guest.Handle).Select(s => SnapshotXml.Parse(s.Xml)).ToList();
        if (snapshots.Count == 0) return [];
        string? current = connection.CurrentSnapshotName(guest.Handle);
        var sizes = snapshots.Any(s => s.Kind == GuestCheckpointKind.Internal) ? VmStateSizes(guest) : null;
        return Tree(snapshots, current, sizes, guest.Name, guest.Uuid, connection.HostName, connection.Uri);
    }

    /// <summary>Orders snapshots into the tree and fills in children, depth and sizes. Pure: the unit tests build trees with it.</summary>
    internal static List<KvmGuestCheckpoint> Tree(IReadOnlyList<SnapshotXml> snapshots, string? current, IReadOnlyDictionary<string, long>? sizes,
        string guestName, Guid guestUuid, string computerName, string uri)
    {
        var names = snapshots.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        static IOrderedEnumerable<SnapshotXml> Oldest(IEnumerable<SnapshotXml> items) =>
            items.OrderBy(s => s.Created ?? DateTimeOffset.MinValue).ThenBy(s => s.Name, StringComparer.Ordinal);
        // A parent that is not in the list (metadata removed by hand) makes its children roots rather than lost.
        var byParent = snapshots.ToLookup(s => s.Parent is { } p && names.Contains(p) ? p : null);
        var ordered = new List<KvmGuestCheckpoint>(snapshots.Count);
        void Visit(SnapshotXml snapshot, int depth)
        {
            var children = Oldest(byParent[snapshot.Name]).ToList();
            ordered.Add(new KvmGuestCheckpoint
            {
                GuestName = guestName,
                Name = snapshot.Name,
                Parent = snapshot.Parent,
                Children = children.Select(c => c.Name).ToArray(),
                Depth = depth,
                IsCurrent = snapshot.Name == current,
                Created = (snapshot.Created ?? DateTimeOffset.UnixEpoch).LocalDateTime,
                State = snapshot.State,
                HasMemory = snapshot.HasMemory,
                Kind = snapshot.Kind,
                SizeBytes = snapshot.Kind == GuestCheckpointKind.Internal && sizes is not null
                    ? sizes.TryGetValue(snapshot.Name, out long size) ? size : null
                    : null,
                Description = snapshot.Description,
                GuestUuid = guestUuid,
                ComputerName = computerName,
                Uri = uri,
            });
            foreach (var child in children) Visit(child, depth + 1);
        }
        foreach (var root in Oldest(byParent[null])) Visit(root, 0);
        return ordered;
    }

    /// <summary>
    /// Checks that an internal checkpoint of the guest can be taken now, picks its name, and says what will happen.
    /// Throws (nothing changed) for a name in use or invalid, a disk that is not qcow2, a running UEFI guest.
    /// </summary>
    public static CheckpointRequest PlanCreate(GuestEntry guest, string? name, string? description, DateTime utcNow)
    {
        if (name is not null) CheckpointName.Validate(name);
        var connection = guest.Connection;
        var (state, _) = connection.GetState(guest.Handle);
        var facts = GuestDeviceFacts.Parse(connection.GetXml(guest.Handle));
        var warnings = CheckpointPlanner.CheckCreate(guest.Name, state, facts);
        bool Exists(string candidate) => connection.SnapshotExists(guest.Handle, candidate);
        name ??= CheckpointName.Default(guest.Name, utcNow, Exists);
        if (Exists(name))
            throw new KvmHostException(ErrorIds.CheckpointExists, FailureKind.InvalidArgument,
                $"Guest '{guest.Name}' already has a checkpoint named '{name}'; nothing was changed.", name,
                "Give another -CheckpointName, leave it out for a name with the time in it, or Remove-KvmGuestCheckpoint the old one first.");
        string action = GuestStateReasons.IsActive(state)
            ? $"Take checkpoint '{name}' of '{guest.Name}' with its memory (it is {state}; it stops for as long as its memory is saved)"
            : $"Take checkpoint '{name}' of '{guest.Name}''s disks (it is {state})";
        return new CheckpointRequest(name, description, action, warnings);
    }

    /// <summary>Takes the checkpoint (atomically: all disks or none) and returns it as the tree now shows it.</summary>
    public static KvmGuestCheckpoint Create(GuestEntry guest, CheckpointRequest request)
    {
        try
        {
            guest.Connection.CreateSnapshot(guest.Handle, request.Name, SnapshotXml.Build(request.Name, request.Description),
                SnapshotCreateAtomic, "internal");
        }
        catch (KvmHostException refused) when (refused.ErrorId == ErrorIds.LibvirtOperationUnsupported
            && GuestDeviceFacts.Parse(guest.Connection.GetXml(guest.Handle)).Uefi)
        {
            // libvirt 9.2 to 9.x refused internal snapshots of UEFI guests that are off too: the same refusal, same id.
            throw CheckpointPlanner.UefiRefusal(guest.Name, refused.Message);
        }
        return List(guest).FirstOrDefault(c => c.Name == request.Name)
            ?? throw new KvmHostException(ErrorIds.CheckpointNotFound, FailureKind.ObjectNotFound,
                $"libvirt took checkpoint '{request.Name}' of '{guest.Name}' but does not list it.", request.Name);
    }

    /// <summary>What a restore does (for ShouldProcess); throws CheckpointRestoreUnsupported where the daemon's libvirt cannot revert it.</summary>
    public static string PlanRestore(GuestEntry guest, KvmGuestCheckpoint checkpoint)
    {
        CheckpointPlanner.CheckRestore(guest.Name, checkpoint, guest.Connection.LibraryVersion);
        var (state, _) = guest.Connection.GetState(guest.Handle);
        GuestState after = CheckpointPlanner.StateAfterRestore(checkpoint.State);
        string from = checkpoint.HasMemory ? "continuing from the moment it was taken" : "from its disks";
        return $"Restore '{guest.Name}' (now {state}) to checkpoint '{checkpoint.Name}' of {checkpoint.Created:yyyy-MM-dd HH:mm:ss}: "
            + $"it will be {after}, {from}; what it did since is lost unless another checkpoint holds it";
    }

    /// <summary>The state a restore leaves the guest in: the one it was in when the checkpoint was taken.</summary>
    public static GuestState StateAfterRestore(KvmGuestCheckpoint checkpoint) => CheckpointPlanner.StateAfterRestore(checkpoint.State);

    /// <summary>Reverts the guest to the checkpoint (libvirt brings it to the checkpoint's state) and returns the state it is in then.</summary>
    public static GuestState Restore(GuestEntry guest, KvmGuestCheckpoint checkpoint)
    {
        guest.Connection.RevertToSnapshot(guest.Handle, checkpoint.Name, 0);
        return guest.Connection.GetState(guest.Handle).State;
    }

    /// <summary>Removes a checkpoint (with <paramref name="includeChildren"/>, its descendants too; else they move to its parent).</summary>
    public static void Remove(GuestEntry guest, string checkpoint, bool includeChildren) =>
        guest.Connection.DeleteSnapshot(guest.Handle, checkpoint, includeChildren ? SnapshotDeleteChildren : 0);

    /// <summary>
    /// The saved memory per internal snapshot name, summed over the guest's qcow2 disks (one of them holds it), read
    /// from the images' snapshot tables. Null when no image could be read (another host, not root, no qcow2 disk).
    /// </summary>
    private static Dictionary<string, long>? VmStateSizes(GuestEntry guest)
    {
        var connection = guest.Connection;
        if (!LibvirtUri.IsLocal(connection.Uri)) return null;
        var facts = GuestDeviceFacts.Parse(connection.GetXml(guest.Handle));
        Dictionary<string, long>? sizes = null;
        foreach (var disk in facts.Disks.Where(d => d.Included && d.Format == "qcow2"))
        {
            string? path = disk.Type == "volume" && disk.Pool is { } pool && disk.Volume is { } volume ? connection.VolumePath(pool, volume)
                : disk.Type is "file" or "block" ? disk.File : null;
            if (path is null || DaemonFiles.Locate(guest, path) is not { } local) continue;
            try
            {
                using var image = DaemonFiles.OpenRead(local);
                sizes ??= new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var snapshot in Qcow2SnapshotTable.Read(image))
                    sizes[snapshot.Name] = sizes.GetValueOrDefault(snapshot.Name) + snapshot.VmStateBytes;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                connection.Note($"checkpoint sizes: cannot read {disk.Target}'s image {local}: {e.Message}");
            }
        }
        return sizes;
    }
}

/// <summary>Checkpoint names: the rules of guest names (they become file names and XML text) and Hyper-V's default.</summary>
public static class CheckpointName
{
    /// <summary>A guest name (at most 200 bytes) with the default's time stamp still fits a file name.</summary>
    public const int MaxBytes = 230;

    public static void Validate(string? name)
    {
        string? problem = GuestName.Problem(name, MaxBytes);
        if (problem is null) return;
        string shown = name is null ? "(null)" : name.Length > 60 ? name[..60] + "..." : name;
        throw new KvmHostException(ErrorIds.CheckpointNameInvalid, FailureKind.InvalidArgument,
            $"'{GuestName.Printable(shown)}' is not a usable checkpoint name: {problem}; nothing was changed.", name,
            $"Use letters, digits and . _ - + : @ (at most {MaxBytes} bytes, not starting with '-'), or leave -CheckpointName out.");
    }

    /// <summary>The guest's name and the UTC time, as Hyper-V names checkpoints ("web01-20261203T101500Z"); "-2", "-3"... when taken.</summary>
    public static string Default(string guest, DateTime utcNow, Func<string, bool> exists)
    {
        string name = $"{guest}-{utcNow:yyyyMMdd'T'HHmmss'Z'}";
        for (int n = 2; exists(name); n++) name = $"{guest}-{utcNow:yyyyMMdd'T'HHmmss'Z'}-{n}";
        return name;
    }
}

/// <summary>The refusals of the checkpoint cmdlets, decided from the guest's definition, state and libvirt version. Pure.</summary>
internal static class CheckpointPlanner
{
    /// <summary>Throws when an internal checkpoint cannot be taken; returns warnings for what it will not hold.</summary>
    public static IReadOnlyList<string> CheckCreate(string guest, GuestState state, GuestDeviceFacts facts)
    {
        var unsupported = facts.Disks.Where(d => d.Included && d.Format != "qcow2").ToList();
        if (unsupported.Count > 0)
            throw new KvmHostException(ErrorIds.CheckpointDiskUnsupported, FailureKind.InvalidOperation,
                $"Guest '{guest}' cannot take a checkpoint: {string.Join(", ", unsupported.Select(d => $"disk {d.Target} is {d.Format ?? "of no stated format (raw to libvirt)"}"))}. "
                + "Checkpoints are kept inside qcow2 images, and only qcow2 can hold them; nothing was changed.", guest,
                "Convert the disk while the guest is off (qemu-img convert -f raw -O qcow2 OLD NEW) and point the guest at the new image; "
                + "or mark a disk that need not be in checkpoints with snapshot='no' in its <disk> element.");
        if (facts.Uefi && GuestStateReasons.IsActive(state))
            throw UefiRefusal(guest, $"it is {state}");
        return facts.Uefi
            ? [$"'{guest}' boots UEFI: its UEFI variables (the NVRAM file) are not part of the checkpoint, only its disks."]
            : [];
    }

    public static KvmHostException UefiRefusal(string guest, string detail) =>
        new(ErrorIds.CheckpointUefiUnsupported, FailureKind.InvalidOperation,
            $"Guest '{guest}' boots UEFI from pflash firmware, and libvirt cannot take an internal checkpoint of such a guest while it runs ({detail}); nothing was changed.",
            guest,
            "Shut the guest down (Stop-KvmGuest) and take the checkpoint then: it holds the disks without memory or UEFI variables. "
            + "External snapshots (virsh snapshot-create-as --disk-only) work while it runs, and libvirt 9.7 or later can restore them.");

    /// <summary>External snapshots revert only with libvirt 9.7 or later (the daemon's version).</summary>
    public static void CheckRestore(string guest, KvmGuestCheckpoint checkpoint, Version libvirt)
    {
        if (checkpoint.Kind == GuestCheckpointKind.External && libvirt < GuestCheckpoints.ExternalRestoreSince)
            throw new KvmHostException(ErrorIds.CheckpointRestoreUnsupported, FailureKind.NotImplemented,
                $"Checkpoint '{checkpoint.Name}' of guest '{guest}' is external (overlay files), and the libvirt of its host ({libvirt}) "
                + $"cannot restore external snapshots; libvirt {GuestCheckpoints.ExternalRestoreSince} and later can. Nothing was changed.",
                checkpoint.Name,
                "Upgrade libvirt on the guest's host, or go back by hand: power the guest off and point its disks at the snapshot's backing images. "
                + "Checkpoints taken by Checkpoint-KvmGuest are internal and restore on every libvirt.");
    }

    /// <summary>The state libvirt leaves a guest in after reverting to a checkpoint taken in <paramref name="state"/>.</summary>
    public static GuestState StateAfterRestore(GuestCheckpointState state) => state switch
    {
        GuestCheckpointState.Running or GuestCheckpointState.Blocked => GuestState.Running,
        GuestCheckpointState.Paused => GuestState.Paused,
        _ => GuestState.ShutOff,
    };
}
