using System.Runtime.InteropServices;
using System.Xml;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>A storage volume as libvirt names it: its pool, its name there, and the path of its file or device.</summary>
public sealed record StorageVolumeRef(string Pool, string Name, string? Path)
{
    public override string ToString() => Path is null ? $"{Pool}/{Name}" : $"{Pool}/{Name} ({Path})";
}

/// <summary>A storage pool: whether it runs, and the folder (or device) it keeps its volumes in.</summary>
internal sealed record StoragePoolRef(string Name, bool Active, string? TargetPath);

/// <summary>
/// The calls of New-, Set- and Remove-KvmGuest: the host's size and capabilities, networks, storage pools and
/// volumes, a guest's memory, processors, description and name, and what undefine must take along. Lookups
/// of things that may well not be there (a network, a pool, a volume by path) answer null instead of failing.
/// </summary>
public sealed unsafe partial class LibvirtConnection
{
    private const int NoNetwork = 43, NoStoragePool = 49, NoStorageVolume = 50;

    // ---- the host -------------------------------------------------------------------------------------------

    /// <summary>The host's memory in bytes and its logical CPUs (virNodeGetInfo), as libvirt on that host sees them.</summary>
    internal (long MemoryBytes, int Cpus) GetNodeInfo()
    {
        if (virNodeGetInfo(_handle, out VirNodeInfo info) < 0) throw Failure("virNodeGetInfo", null);
        return ((long)Math.Min(info.Memory, long.MaxValue / 1024) * 1024, (int)Math.Min(info.Cpus, int.MaxValue));
    }

    /// <summary>The memory of the host behind this connection, in bytes.</summary>
    public long HostMemoryBytes => GetNodeInfo().MemoryBytes;

    /// <summary>The host's capabilities XML (virConnectGetCapabilities): its CPU and the guest types its hypervisor offers.</summary>
    internal string GetCapabilities() => TakeString(virConnectGetCapabilities(_handle)) ?? throw Failure("virConnectGetCapabilities", null);

    /// <summary>
    /// Every feature of a host CPU as libvirt describes it (&lt;cpu&gt; of the capabilities): capabilities list only the
    /// features beyond the named model (an Opteron_G4 has svm without listing it), so the model is expanded through
    /// libvirt's own CPU map (virConnectBaselineCPU with EXPAND_FEATURES). Null when the driver cannot expand.
    /// </summary>
    internal IReadOnlySet<string>? ExpandCpuFeatures(string cpuXml)
    {
        IntPtr text = Marshal.StringToCoTaskMemUTF8(cpuXml);
        try
        {
            IntPtr* list = stackalloc IntPtr[1];
            list[0] = text;
            string? expanded = TakeString(virConnectBaselineCPU(_handle, list, 1, BaselineExpandFeatures));
            if (expanded is null)
            {
                Log($"libvirt: cannot expand the host CPU's model into its features: {TakeLastError().Message}");
                return null;
            }
            var document = new XmlDocument { XmlResolver = null };
            using var reader = XmlReader.Create(new StringReader(expanded), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            document.Load(reader);
            return document.SelectNodes("/cpu/feature")!.OfType<XmlElement>()
                .Where(f => f.GetAttribute("policy") is "" or "require" or "force")
                .Select(f => f.GetAttribute("name")).Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);
        }
        catch (XmlException)
        {
            return null;
        }
        finally
        {
            Marshal.FreeCoTaskMem(text);
        }
    }

    // ---- networks -------------------------------------------------------------------------------------------

    /// <summary>Whether a libvirt network is active; null when there is none of that name.</summary>
    internal bool? NetworkIsActive(string name)
    {
        IntPtr pointer = virNetworkLookupByName(_handle, name);
        if (pointer == IntPtr.Zero)
        {
            LibvirtError error = TakeLastError();
            if (error.Code == NoNetwork) return null;
            throw LibvirtErrors.ForCall(error, Uri, "virNetworkLookupByName", null);
        }
        using var network = new NetworkHandle(pointer);
        int active = virNetworkIsActive(network);
        return active < 0 ? throw Failure("virNetworkIsActive", null) : active == 1;
    }

    // ---- storage pools ----------------------------------------------------------------------------------------

    /// <summary>A pool by name; null when there is none.</summary>
    internal StoragePoolRef? GetStoragePool(string name)
    {
        using var pool = LookupPool(name);
        return pool is null ? null : DescribePool(pool, name);
    }

    /// <summary>Every storage pool, active or not (virConnectListAllStoragePools).</summary>
    internal List<StoragePoolRef> ListStoragePools()
    {
        int count = virConnectListAllStoragePools(_handle, out IntPtr* pools, 0);
        if (count < 0) throw Failure("virConnectListAllStoragePools", null);
        var result = new List<StoragePoolRef>(count);
        var handles = new List<StoragePoolHandle>(count);
        try
        {
            for (int i = 0; i < count; i++) handles.Add(new StoragePoolHandle(pools[i]));
        }
        finally
        {
            Free(pools);
        }
        foreach (var pool in handles)
        {
            using (pool)
            {
                string name = Marshal.PtrToStringUTF8(virStoragePoolGetName(pool)) ?? string.Empty;
                result.Add(DescribePool(pool, name));
            }
        }
        return result;
    }

    /// <summary>
    /// Stops a pool and removes its definition; the folder and its files stay (a dir pool's undefine never deletes
    /// anything). For the pools virt-install makes for the folders of the files it is given.
    /// </summary>
    internal void ForgetStoragePool(string name)
    {
        RequireWritable();
        using var pool = LookupPool(name);
        if (pool is null) return;
        Log($"libvirt: virStoragePoolDestroy + virStoragePoolUndefine {name} (the folder and its files stay) on {Uri}");
        if (virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0) throw Failure("virStoragePoolDestroy", null);
        if (virStoragePoolUndefine(pool) < 0) throw Failure("virStoragePoolUndefine", null);
    }

    /// <summary>The names of a pool's volumes after a refresh (files copied in by hand count too); empty when the pool is missing or stopped.</summary>
    internal HashSet<string> ListVolumeNames(string pool)
    {
        using (var handle = LookupPool(pool))
            if (handle is not null && virStoragePoolIsActive(handle) == 1 && virStoragePoolRefresh(handle, 0) < 0)
                Log($"libvirt: cannot refresh pool {pool}: {TakeLastError().Message}");
        var volumes = ListVolumes(pool);
        try
        {
            return volumes.Keys.ToHashSet(StringComparer.Ordinal);
        }
        finally
        {
            foreach (var volume in volumes.Values) volume.Dispose();
        }
    }

    private StoragePoolHandle? LookupPool(string name)
    {
        IntPtr pointer = virStoragePoolLookupByName(_handle, name);
        if (pointer != IntPtr.Zero) return new StoragePoolHandle(pointer);
        LibvirtError error = TakeLastError();
        return error.Code == NoStoragePool ? null : throw LibvirtErrors.ForCall(error, Uri, "virStoragePoolLookupByName", null);
    }

    private StoragePoolRef DescribePool(StoragePoolHandle pool, string name)
    {
        int active = virStoragePoolIsActive(pool);
        if (active < 0) throw Failure("virStoragePoolIsActive", null);
        string? xml = TakeString(virStoragePoolGetXMLDesc(pool, 0));
        if (xml is null) TakeLastError();
        return new StoragePoolRef(name, active == 1, xml is null ? null : PoolTargetPath(xml));
    }

    /// <summary>&lt;pool&gt;&lt;target&gt;&lt;path&gt;: the folder of a dir pool, the device folder of others.</summary>
    internal static string? PoolTargetPath(string poolXml)
    {
        try
        {
            var document = new XmlDocument { XmlResolver = null };
            using var reader = XmlReader.Create(new StringReader(poolXml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            document.Load(reader);
            string? path = document.SelectSingleNode("/pool/target/path")?.InnerText.Trim();
            return string.IsNullOrEmpty(path) ? null : path;
        }
        catch (XmlException)
        {
            return null;
        }
    }

    // ---- storage volumes --------------------------------------------------------------------------------------

    /// <summary>The volume at a path (virStorageVolLookupByPath): a disk file that lives in some pool; null when none has it.</summary>
    internal StorageVolumeRef? FindVolumeByPath(string path)
    {
        IntPtr pointer = virStorageVolLookupByPath(_handle, path);
        if (pointer == IntPtr.Zero)
        {
            LibvirtError error = TakeLastError();
            if (error.Code == NoStorageVolume) return null;
            throw LibvirtErrors.ForCall(error, Uri, "virStorageVolLookupByPath", null);
        }
        using var volume = new StorageVolumeHandle(pointer);
        return Describe(volume);
    }

    /// <summary>A volume by pool and name; null when the pool or the volume is not there (or the pool is stopped).</summary>
    internal StorageVolumeRef? FindVolume(string pool, string name)
    {
        using var volume = LookupVolume(pool, name, out _);
        return volume is null ? null : Describe(volume);
    }

    /// <summary>
    /// The one volume lookup by pool and name (FindVolume, VolumePath): the volume's handle, or null with libvirt's
    /// reason when the pool or the volume is not there, or the pool is stopped. Any other failure throws.
    /// </summary>
    private StorageVolumeHandle? LookupVolume(string pool, string name, out string? whyNot)
    {
        IntPtr poolPointer = virStoragePoolLookupByName(_handle, pool);
        if (poolPointer == IntPtr.Zero)
        {
            LibvirtError error = TakeLastError();
            whyNot = error.Code == NoStoragePool ? $"no storage pool {pool}: {error.Message}"
                : throw LibvirtErrors.ForCall(error, Uri, "virStoragePoolLookupByName", null);
            return null;
        }
        using var poolHandle = new StoragePoolHandle(poolPointer);
        IntPtr pointer = virStorageVolLookupByName(poolHandle, name);
        if (pointer == IntPtr.Zero)
        {
            LibvirtError error = TakeLastError();
            whyNot = error.Code is NoStorageVolume or LibvirtErrors.OperationInvalid ? $"no volume {pool}/{name}: {error.Message}"
                : throw LibvirtErrors.ForCall(error, Uri, "virStorageVolLookupByName", null);
            return null;
        }
        whyNot = null;
        return new StorageVolumeHandle(pointer);
    }

    /// <summary>Deletes a volume (its file or device) through its pool.</summary>
    internal void DeleteVolume(StorageVolumeRef volume)
    {
        RequireWritable();
        using var poolHandle = LookupPool(volume.Pool) ?? throw new KvmHostException(ErrorIds.GuestVolumeDeleteFailed, FailureKind.ObjectNotFound,
            $"Cannot delete {volume}: its storage pool '{volume.Pool}' is gone.", volume.Path ?? volume.Name);
        IntPtr pointer = virStorageVolLookupByName(poolHandle, volume.Name);
        if (pointer == IntPtr.Zero) throw Failure("virStorageVolLookupByName", null);
        using var handle = new StorageVolumeHandle(pointer);
        Log($"libvirt: virStorageVolDelete {volume} on {Uri}");
        if (virStorageVolDelete(handle, 0) < 0) throw Failure("virStorageVolDelete", null);
    }

    private StorageVolumeRef Describe(StorageVolumeHandle volume)
    {
        string name = Marshal.PtrToStringUTF8(virStorageVolGetName(volume)) ?? string.Empty;
        string? path = TakeString(virStorageVolGetPath(volume));
        if (path is null) TakeLastError();
        IntPtr poolPointer = virStoragePoolLookupByVolume(volume);
        if (poolPointer == IntPtr.Zero) throw Failure("virStoragePoolLookupByVolume", null);
        using var pool = new StoragePoolHandle(poolPointer);
        return new StorageVolumeRef(Marshal.PtrToStringUTF8(virStoragePoolGetName(pool)) ?? string.Empty, name, path);
    }

    // ---- domains: lookup, settings, what undefine takes along ----------------------------------------------------

    /// <summary>The guest of that exact name, or null when there is none (libvirt names are case-sensitive).</summary>
    internal DomainHandle? TryLookupByName(string name)
    {
        IntPtr pointer = virDomainLookupByName(_handle, name);
        if (pointer != IntPtr.Zero) return new DomainHandle(pointer);
        LibvirtError error = TakeLastError();
        return error.Code == LibvirtErrors.NoDomain ? null : throw LibvirtErrors.ForCall(error, Uri, "virDomainLookupByName", name);
    }

    internal void SetMemory(DomainHandle domain, long kibibytes, bool maximum, uint impact) =>
        Change(domain, "virDomainSetMemoryFlags", $"{(maximum ? "maximum" : "current")} {kibibytes} KiB, {ImpactOf(impact)}",
            d => virDomainSetMemoryFlags(d, (nuint)kibibytes, impact | (maximum ? MemoryMaximum : 0)));

    internal void SetVcpus(DomainHandle domain, int count, bool maximum, uint impact) =>
        Change(domain, "virDomainSetVcpusFlags", $"{(maximum ? "maximum" : "current")} {count}, {ImpactOf(impact)}",
            d => virDomainSetVcpusFlags(d, (uint)count, impact | (maximum ? VcpuMaximum : 0)));

    /// <summary>Sets (or, with null, removes) the description; libvirt escapes the text into the XML itself.</summary>
    internal void SetDescription(DomainHandle domain, string? text, uint impact) =>
        Change(domain, "virDomainSetMetadata", $"description, {ImpactOf(impact)}",
            d => virDomainSetMetadata(d, MetadataDescription, string.IsNullOrEmpty(text) ? null : text, null, null, impact));

    internal void Rename(DomainHandle domain, string newName) =>
        Change(domain, "virDomainRename", $"to '{newName}'", d => virDomainRename(d, newName, 0));

    internal int CountSnapshots(DomainHandle domain)
    {
        int count = virDomainCountSnapshots(domain, IntPtr.Zero, 0);
        return count >= 0 ? count : throw FailureAbout(domain, "virDomainListAllSnapshots");
    }

    /// <summary>The guest's checkpoints (incremental-backup points); null when this libvirt has none (before 5.6, or a driver without them).</summary>
    internal int? CountCheckpoints(DomainHandle domain)
    {
        int count;
        try
        {
            count = virDomainCountCheckpoints(domain, IntPtr.Zero, 0);
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        if (count >= 0) return count;
        LibvirtError error = TakeLastError();
        if (error.Code is LibvirtErrors.NoSupport or LibvirtErrors.OperationUnsupported or LibvirtErrors.ArgumentUnsupported) return null;
        throw LibvirtErrors.ForCall(error, Uri, "virDomainListAllCheckpoints", NameOf(domain));
    }

    private static string ImpactOf(uint impact) => (impact & (AffectLive | AffectConfig)) switch
    {
        AffectLive | AffectConfig => "running guest and definition",
        AffectLive => "running guest",
        AffectConfig => "definition",
        _ => "current",
    };
}
