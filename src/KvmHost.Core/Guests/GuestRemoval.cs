using System.Xml;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>A disk Remove-KvmGuest left in place, and why.</summary>
public sealed record KvmGuestKeptDisk(string Target, string? Source, string Reason)
{
    public override string ToString() => $"{Source ?? Target}: {Reason}";
}

/// <summary>What Remove-KvmGuest did to one guest (or, with -WhatIf, would do): Hyper-V's Remove-VM has no such result; it is what -PassThru writes.</summary>
public sealed record KvmGuestRemoval
{
    public required string Name { get; init; }
    public required Guid Uuid { get; init; }
    public required string Uri { get; init; }
    public bool WhatIf { get; init; }

    /// <summary>The guest is gone (false only for a preview).</summary>
    public bool Removed { get; init; }

    /// <summary>It was running (or paused) and was powered off first (-Force).</summary>
    public bool PoweredOff { get; init; }

    /// <summary>The UEFI variable store removed with the definition (VIR_DOMAIN_UNDEFINE_NVRAM).</summary>
    public string? Nvram { get; init; }

    public bool ManagedSaveRemoved { get; init; }
    public int SnapshotMetadataRemoved { get; init; }
    public int CheckpointMetadataRemoved { get; init; }

    /// <summary>Volumes deleted with -DeleteStorage, as pool/volume (path).</summary>
    public string[] DeletedVolumes { get; init; } = [];

    /// <summary>Every disk image left in place, with the reason (not in a pool, used by another guest, no -DeleteStorage, a CD-ROM).</summary>
    public KvmGuestKeptDisk[] KeptDisks { get; init; } = [];

    /// <summary>Every step of the removal: what a preview would do, what a run did.</summary>
    public string[] PlannedChanges { get; init; } = [];

    public override string ToString() => Name;
}

/// <summary>The decision for one guest, made before anything changes.</summary>
public sealed record GuestRemovalPlan
{
    public required string Guest { get; init; }
    public bool PowerOff { get; init; }
    public bool Persistent { get; init; }
    public uint UndefineFlags { get; init; }
    public string? Nvram { get; init; }
    public bool ManagedSave { get; init; }
    public int Snapshots { get; init; }
    public int Checkpoints { get; init; }
    public IReadOnlyList<StorageVolumeRef> DeleteVolumes { get; init; } = [];
    public IReadOnlyList<KvmGuestKeptDisk> KeptDisks { get; init; } = [];

    /// <summary>The steps in words, in order: for ShouldProcess, -WhatIf and the result.</summary>
    public IReadOnlyList<string> Steps
    {
        get
        {
            var steps = new List<string>();
            if (PowerOff) steps.Add($"Power off '{Guest}'");
            var along = new List<string>();
            if (Nvram is not null) along.Add($"its UEFI variables {Nvram}");
            if (ManagedSave) along.Add("its managed-save image");
            if (Snapshots > 0) along.Add($"the metadata of {Snapshots} snapshot(s)");
            if (Checkpoints > 0) along.Add($"the metadata of {Checkpoints} checkpoint(s)");
            steps.Add(Persistent ? $"Remove the definition of '{Guest}'{(along.Count > 0 ? " with " + string.Join(", ", along) : string.Empty)}"
                : $"'{Guest}' is transient: powering it off removes it");
            steps.AddRange(DeleteVolumes.Select(v => $"Delete volume {v}"));
            steps.AddRange(KeptDisks.Select(k => $"Keep {k.Source ?? k.Target} ({k.Reason})"));
            return steps;
        }
    }
}

/// <summary>
/// Removes guests the way virsh cannot in one step: undefine with everything libvirt otherwise refuses to leave behind
/// (the UEFI nvram, a managed-save image, snapshot and checkpoint metadata: libvirt's own undefine flags, so nothing
/// here keeps books of its own), and with -DeleteStorage the guest's disk volumes, but only those that live in a
/// libvirt storage pool and that no other guest uses (as its disk or as the backing file of its disk). Everything
/// else is kept and named. A running guest is refused unless -Force, which powers it off first.
/// </summary>
public static class GuestRemover
{
    public static GuestRemovalPlan Plan(GuestEntry guest, bool force, bool deleteStorage, IEnumerable<GuestEntry> otherGuests)
    {
        var connection = guest.Connection;
        var (state, reason) = connection.GetState(guest.Handle);
        bool active = GuestStateReasons.IsActive(state);
        if (active && !force)
            throw new KvmHostException(ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation,
                $"Guest '{guest.Name}' is {state} ({GuestStateReasons.Describe(state, reason)}); a guest that runs is not removed. Nothing was changed.", guest.Name,
                "Stop-KvmGuest first, or Remove-KvmGuest -Force to power it off and remove it.");
        bool persistent = connection.IsPersistent(guest.Handle);
        string configXml = connection.GetXml(guest.Handle, inactive: persistent);
        var disks = DiskReferences.Parse(configXml).ToList();
        if (active)
            foreach (var disk in DiskReferences.Parse(connection.GetXml(guest.Handle)))
                if (!disks.Any(d => d.Target == disk.Target)) disks.Add(disk); // a disk plugged into the running guest only

        int snapshots = persistent ? connection.CountSnapshots(guest.Handle) : 0;
        int? checkpoints = persistent ? connection.CountCheckpoints(guest.Handle) : null;
        bool managedSave = persistent && connection.HasManagedSave(guest.Handle);
        bool uefi = persistent && DiskReferences.IsUefi(configXml);
        // Only the flags this guest needs: each one is what libvirt refuses to undefine without, and a driver that lacks a
        // flag (the test driver has no NVRAM flag; libvirt before 5.6 no checkpoints) still removes guests that need none.
        uint flags = (managedSave ? UndefineManagedSave : 0) | (snapshots > 0 ? UndefineSnapshotsMetadata : 0)
            | (uefi ? UndefineNvram : 0) | (checkpoints > 0 ? UndefineCheckpointsMetadata : 0);

        var (delete, kept) = DecideDisks(guest, disks, deleteStorage, otherGuests);
        return new GuestRemovalPlan
        {
            Guest = guest.Name, PowerOff = active, Persistent = persistent, UndefineFlags = flags,
            Nvram = uefi ? NvramOf(guest, configXml, active) : null, ManagedSave = managedSave,
            Snapshots = snapshots, Checkpoints = checkpoints ?? 0, DeleteVolumes = delete, KeptDisks = kept,
        };
    }

    /// <summary>
    /// The UEFI variable store undefine removes: named in the definition, or in the running guest's XML, or, for firmware
    /// libvirt selects at each start (firmware='efi', as virt-install --boot uefi writes it), where libvirt's QEMU driver puts
    /// it: its nvram folder and NAME_VARS.fd (qemuDomainNVRAMPathFormat). Null when none of these says.
    /// </summary>
    private static string? NvramOf(GuestEntry guest, string configXml, bool active)
    {
        if (DiskReferences.NvramPath(configXml) is { } configured) return configured;
        if (active && DiskReferences.NvramPath(guest.Connection.GetXml(guest.Handle)) is { } live) return live;
        return System.Uri.TryCreate(guest.Connection.Uri, UriKind.Absolute, out var uri) && uri.Scheme.StartsWith("qemu", StringComparison.Ordinal)
            && uri.AbsolutePath == "/system" ? $"/var/lib/libvirt/qemu/nvram/{guest.Name}_VARS.fd" : null;
    }

    private static (List<StorageVolumeRef> Delete, List<KvmGuestKeptDisk> Kept) DecideDisks(GuestEntry guest, List<DiskReference> disks, bool deleteStorage,
        IEnumerable<GuestEntry> otherGuests)
    {
        var delete = new List<StorageVolumeRef>();
        var kept = new List<KvmGuestKeptDisk>();
        var connection = guest.Connection;
        Dictionary<string, string>? usedBy = null; // path or pool/volume -> the other guest that uses it
        foreach (var disk in disks)
        {
            string? shown = disk.Shown;
            if (shown is null) continue; // an empty CD-ROM drive
            if (disk.Device != "disk") { kept.Add(new(disk.Target, shown, $"a {disk.Device} image: install media is never deleted")); continue; }
            if (!deleteStorage) { kept.Add(new(disk.Target, shown, "-DeleteStorage was not given")); continue; }
            var volume = disk.Pool is not null && disk.Volume is not null ? connection.FindVolume(disk.Pool, disk.Volume)
                : disk.Path is not null && disk.Type is "file" or "block" ? connection.FindVolumeByPath(disk.Path) : null;
            if (volume is null) { kept.Add(new(disk.Target, shown, disk.Type == "network" ? "a network disk: not a volume of a storage pool" : "not in a libvirt storage pool")); continue; }
            usedBy ??= UsageByOthers(guest, otherGuests);
            string? user = (volume.Path is not null ? usedBy.GetValueOrDefault(volume.Path) : null) ?? usedBy.GetValueOrDefault($"{volume.Pool}/{volume.Name}");
            if (user is not null) { kept.Add(new(disk.Target, shown, $"also used by guest '{user}'")); continue; }
            if (!delete.Contains(volume)) delete.Add(volume);
        }
        return (delete, kept);
    }

    /// <summary>Every disk source and backing file of every other guest (definition and, while running, the live guest).</summary>
    private static Dictionary<string, string> UsageByOthers(GuestEntry guest, IEnumerable<GuestEntry> others)
    {
        var used = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var other in others.Where(o => o.Uuid != guest.Uuid))
        {
            var connection = other.Connection;
            var xmls = new List<string>();
            try
            {
                bool persistent = connection.IsPersistent(other.Handle);
                xmls.Add(connection.GetXml(other.Handle, inactive: persistent));
                if (persistent && LibvirtConnection.IdOf(other.Handle) is not null) xmls.Add(connection.GetXml(other.Handle));
            }
            catch (KvmHostException gone) when (gone.ErrorId == ErrorIds.GuestNotFound)
            {
                continue;
            }
            foreach (var reference in xmls.SelectMany(DiskReferences.AllSources))
                used.TryAdd(reference, other.Name);
        }
        return used;
    }

    /// <summary>
    /// Carries out a plan: power off, undefine with the plan's flags, delete the volumes. A volume that cannot be
    /// deleted does not stop the others; the failures come back with the result (the guest itself is gone by then).
    /// </summary>
    public static (KvmGuestRemoval Result, IReadOnlyList<KvmHostException> Failures) Apply(GuestEntry guest, GuestRemovalPlan plan)
    {
        var connection = guest.Connection;
        if (plan.PowerOff) connection.Destroy(guest.Handle);
        if (plan.Persistent)
        {
            connection.Undefine(guest.Handle, plan.UndefineFlags);
        }
        var deleted = new List<string>();
        var failures = new List<KvmHostException>();
        var kept = plan.KeptDisks.ToList();
        foreach (var volume in plan.DeleteVolumes)
        {
            try
            {
                connection.DeleteVolume(volume);
                deleted.Add(volume.ToString());
            }
            catch (KvmHostException e)
            {
                kept.Add(new KvmGuestKeptDisk(volume.Name, volume.Path ?? volume.ToString(), $"could not be deleted: {e.Message}"));
                failures.Add(new KvmHostException(ErrorIds.GuestVolumeDeleteFailed, FailureKind.WriteError,
                    $"Guest '{plan.Guest}' was removed, but its volume {volume} could not be deleted: {e.Message}", volume.Path ?? volume.ToString(),
                    $"Delete it by hand once the cause is fixed: virsh vol-delete --pool {volume.Pool} {volume.Name}", e));
            }
        }
        var result = new KvmGuestRemoval
        {
            Name = guest.Name, Uuid = guest.Uuid, Uri = connection.Uri, Removed = true, PoweredOff = plan.PowerOff,
            Nvram = plan.Nvram, ManagedSaveRemoved = plan.ManagedSave, SnapshotMetadataRemoved = plan.Snapshots,
            CheckpointMetadataRemoved = plan.Checkpoints, DeletedVolumes = [.. deleted], KeptDisks = [.. kept], PlannedChanges = [.. plan.Steps],
        };
        return (result, failures);
    }

    /// <summary>What -WhatIf -PassThru writes: the plan, nothing done.</summary>
    public static KvmGuestRemoval Preview(GuestEntry guest, GuestRemovalPlan plan) => new()
    {
        Name = guest.Name, Uuid = guest.Uuid, Uri = guest.Connection.Uri, WhatIf = true, Removed = false,
        KeptDisks = [.. plan.KeptDisks], PlannedChanges = [.. plan.Steps],
    };
}

/// <summary>One &lt;disk&gt; of a domain definition as removal needs it.</summary>
internal sealed record DiskReference(string Target, string Device, string Type, string? Path, string? Pool, string? Volume)
{
    public string? Shown => Path ?? (Pool is not null && Volume is not null ? $"{Pool}/{Volume}" : null);
}

/// <summary>Reads the disk sources of a domain XML, including every backing file of their chains, and the nvram path.</summary>
internal static class DiskReferences
{
    private static readonly XmlReaderSettings Settings = new() { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };

    private static XmlDocument Load(string xml)
    {
        var document = new XmlDocument { XmlResolver = null };
        using var reader = XmlReader.Create(new StringReader(xml), Settings);
        document.Load(reader);
        return document;
    }

    public static IEnumerable<DiskReference> Parse(string domainXml)
    {
        foreach (XmlElement disk in Load(domainXml).SelectNodes("/domain/devices/disk")!.OfType<XmlElement>())
        {
            string type = disk.GetAttribute("type") is { Length: > 0 } t ? t : "file";
            var source = disk.SelectSingleNode("source") as XmlElement;
            string? path = source is null ? null : Attribute(source, "file") ?? Attribute(source, "dev") ?? Attribute(source, "dir")
                ?? (type == "network" ? $"{Attribute(source, "protocol")}:{Attribute(source, "name")}" : null);
            yield return new DiskReference(
                (disk.SelectSingleNode("target") as XmlElement)?.GetAttribute("dev") ?? string.Empty,
                disk.GetAttribute("device") is { Length: > 0 } d ? d : "disk", type, path,
                source is null ? null : Attribute(source, "pool"), source is null ? null : Attribute(source, "volume"));
        }
    }

    /// <summary>Every path and pool/volume any disk refers to, its backing chain included.</summary>
    public static IEnumerable<string> AllSources(string domainXml)
    {
        foreach (XmlElement source in Load(domainXml).SelectNodes("/domain/devices/disk//source")!.OfType<XmlElement>())
        {
            foreach (string name in new[] { "file", "dev" })
                if (Attribute(source, name) is { } path) yield return path;
            if (Attribute(source, "pool") is { } pool && Attribute(source, "volume") is { } volume) yield return $"{pool}/{volume}";
        }
    }

    /// <summary>UEFI firmware: a pflash loader, an nvram store, or firmware autoselection of efi.</summary>
    public static bool IsUefi(string domainXml)
    {
        var document = Load(domainXml);
        return document.SelectSingleNode("/domain/os/nvram") is not null
            || (document.SelectSingleNode("/domain/os/loader") as XmlElement)?.GetAttribute("type") == "pflash"
            || (document.SelectSingleNode("/domain/os") as XmlElement)?.GetAttribute("firmware") == "efi";
    }

    /// <summary>&lt;os&gt;&lt;nvram&gt;PATH&lt;/nvram&gt; (or, since libvirt 8.5, &lt;nvram&gt;&lt;source file=PATH/&gt;).</summary>
    public static string? NvramPath(string domainXml)
    {
        if (Load(domainXml).SelectSingleNode("/domain/os/nvram") is not XmlElement nvram) return null;
        string? path = (nvram.SelectSingleNode("source") as XmlElement)?.GetAttribute("file");
        if (string.IsNullOrEmpty(path)) path = nvram.InnerText.Trim();
        return string.IsNullOrEmpty(path) ? null : path;
    }

    private static string? Attribute(XmlElement element, string name) => element.GetAttribute(name) is { Length: > 0 } value ? value : null;
}
