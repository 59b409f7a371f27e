using System.Runtime.InteropServices;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>The snapshot calls behind the checkpoint cmdlets (one definition of a checkpoint: a libvirt snapshot).</summary>
public sealed unsafe partial class LibvirtConnection
{
    private const int NoDomainSnapshot = 72;
    private const int SnapshotRevertRisky = 77;
    private Version? _libraryVersion;

    /// <summary>
    /// The libvirt version of the daemon behind this connection (virConnectGetLibVersion answers for the daemon,
    /// also over a remote URI), which decides what it can do with snapshots; remembered.
    /// </summary>
    internal Version LibraryVersion
    {
        get
        {
            if (_libraryVersion is not null) return _libraryVersion;
            if (virConnectGetLibVersion(_handle, out ulong packed) < 0) throw Failure("virConnectGetLibVersion", null);
            return _libraryVersion = new Version((int)(packed / 1_000_000), (int)(packed / 1_000 % 1_000), (int)(packed % 1_000));
        }
    }

    /// <summary>
    /// Every snapshot of a guest (name and XML), parents before their children. One list call, then one XML call
    /// per snapshot: libvirt has no bulk call for snapshot descriptions.
    /// </summary>
    internal List<(string Name, string Xml)> ListSnapshots(DomainHandle domain)
    {
        int count = virDomainListAllSnapshots(domain, out IntPtr* list, SnapshotListTopological);
        if (count < 0)
        {
            LibvirtError error = TakeLastError();
            if (error.Code is not (LibvirtErrors.InvalidArgument or LibvirtErrors.NoSupport or LibvirtErrors.ArgumentUnsupported))
                throw LibvirtErrors.ForCall(error, Uri, "virDomainListAllSnapshots", NameOf(domain));
            // A daemon older than 3.2 does not know the flag; the caller orders the tree itself anyway.
            count = virDomainListAllSnapshots(domain, out list, 0);
            if (count < 0) throw Failure("virDomainListAllSnapshots", NameOf(domain));
        }
        var handles = new List<SnapshotHandle>(count);
        try
        {
            for (int i = 0; i < count; i++) handles.Add(new SnapshotHandle(list[i]));
        }
        finally
        {
            Free(list);
        }
        var snapshots = new List<(string, string)>(count);
        foreach (var snapshot in handles)
        {
            using (snapshot)
            {
                string name = Marshal.PtrToStringUTF8(virDomainSnapshotGetName(snapshot)) ?? string.Empty;
                string xml = TakeString(virDomainSnapshotGetXMLDesc(snapshot, 0)) ?? throw SnapshotFailure("virDomainSnapshotGetXMLDesc", domain, name);
                snapshots.Add((name, xml));
            }
        }
        return snapshots;
    }

    /// <summary>The name of the guest's current snapshot (the one its disks and memory last came from), or null.</summary>
    internal string? CurrentSnapshotName(DomainHandle domain)
    {
        IntPtr pointer = virDomainSnapshotCurrent(domain, 0);
        if (pointer == IntPtr.Zero)
        {
            LibvirtError error = TakeLastError();
            return error.Code == NoDomainSnapshot ? null : throw LibvirtErrors.ForCall(error, Uri, "virDomainSnapshotCurrent", NameOf(domain));
        }
        using var snapshot = new SnapshotHandle(pointer);
        return Marshal.PtrToStringUTF8(virDomainSnapshotGetName(snapshot));
    }

    /// <summary>Whether the guest has a snapshot of that name (one lookup, no XML).</summary>
    internal bool SnapshotExists(DomainHandle domain, string name)
    {
        IntPtr pointer = virDomainSnapshotLookupByName(domain, name, 0);
        if (pointer != IntPtr.Zero)
        {
            new SnapshotHandle(pointer).Dispose();
            return true;
        }
        LibvirtError error = TakeLastError();
        return error.Code == NoDomainSnapshot ? false : throw LibvirtErrors.ForCall(error, Uri, "virDomainSnapshotLookupByName", NameOf(domain));
    }

    /// <summary>A line for -Verbose about something read around libvirt (a disk image's snapshot table).</summary>
    internal void Note(string line) => Log(line);

    /// <summary>Creates a snapshot from its XML (name, description) with <paramref name="flags"/>; libvirt decides what it holds.</summary>
    internal void CreateSnapshot(DomainHandle domain, string name, string xml, uint flags, string what)
    {
        RequireWritable();
        Log($"libvirt: virDomainSnapshotCreateXML {NameOf(domain)} '{name}' ({what}) on {Uri}");
        IntPtr pointer = virDomainSnapshotCreateXML(domain, xml, flags);
        if (pointer == IntPtr.Zero) throw SnapshotFailure("virDomainSnapshotCreateXML", domain, name);
        new SnapshotHandle(pointer).Dispose();
    }

    internal void RevertToSnapshot(DomainHandle domain, string name, uint flags) =>
        OnSnapshot(domain, name, "virDomainRevertToSnapshot", $"flags 0x{flags:x}", s => virDomainRevertToSnapshot(s, flags));

    internal void DeleteSnapshot(DomainHandle domain, string name, uint flags) =>
        OnSnapshot(domain, name, "virDomainSnapshotDelete", (flags & SnapshotDeleteChildren) != 0 ? "with its children" : "children move to its parent",
            s => virDomainSnapshotDelete(s, flags));

    private void OnSnapshot(DomainHandle domain, string name, string call, string what, Func<SnapshotHandle, int> invoke)
    {
        RequireWritable();
        IntPtr pointer = virDomainSnapshotLookupByName(domain, name, 0);
        if (pointer == IntPtr.Zero) throw SnapshotFailure("virDomainSnapshotLookupByName", domain, name);
        using var snapshot = new SnapshotHandle(pointer);
        Log($"libvirt: {call} {NameOf(domain)} '{name}' ({what}) on {Uri}");
        if (invoke(snapshot) < 0) throw SnapshotFailure(call, domain, name);
    }

    /// <summary>A pool volume's path as its daemon sees it; null (and a Verbose line) when libvirt cannot say.</summary>
    internal string? VolumePath(string pool, string volume)
    {
        StorageVolumeHandle? volumeHandle;
        string? whyNot;
        try
        {
            volumeHandle = LookupVolume(pool, volume, out whyNot);
        }
        catch (KvmHostException e)
        {
            // Only a disk's path is wanted here (for a checkpoint's file list): no answer is not a reason to stop.
            (volumeHandle, whyNot) = (null, e.Message);
        }
        if (volumeHandle is null)
        {
            Log($"libvirt: {whyNot}");
            return null;
        }
        using (volumeHandle)
        {
            string? path = TakeString(virStorageVolGetPath(volumeHandle));
            if (path is null) Log($"libvirt: no path for volume {pool}/{volume}: {TakeLastError().Message}");
            return path;
        }
    }

    /// <summary>A failed snapshot call: a missing snapshot and a risky revert get their own ids, the rest the usual mapping.</summary>
    private KvmHostException SnapshotFailure(string call, DomainHandle domain, string snapshot)
    {
        LibvirtError error = TakeLastError();
        string guest = NameOf(domain);
        return error.Code switch
        {
            NoDomainSnapshot => new KvmHostException(ErrorIds.CheckpointNotFound, FailureKind.ObjectNotFound,
                $"Guest '{guest}' has no checkpoint named '{snapshot}' (any more) on {Uri}.", snapshot,
                $"Get-KvmGuestCheckpoint -Name '{guest}' -Uri '{Uri}' lists its checkpoints."),
            SnapshotRevertRisky => new KvmHostException(ErrorIds.CheckpointRestoreRisky, FailureKind.InvalidOperation,
                $"libvirt refused to restore guest '{guest}' to checkpoint '{snapshot}' as risky: {error.Message}", snapshot,
                "libvirt calls a restore risky when the checkpoint lacks the guest's definition or the running guest cannot take it over; power the guest off (Stop-KvmGuest -TurnOff) and restore again."),
            _ => Failure(error, call, guest, domain),
        };
    }
}
