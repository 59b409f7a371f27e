using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvmHost.Core.Guests;

/// <summary>
/// The declarations New-, Set- and Remove-KvmGuest add (part 2): the host's size and capabilities, networks,
/// storage pools and volumes, the settings calls and the counts undefine needs. All of them exist in RHEL 7's
/// libvirt 4.5 except virDomainListAllCheckpoints (5.6), whose absence is handled where it is called.
/// </summary>
internal static unsafe partial class LibvirtNative
{
    // ---- constants (libvirt-domain.h, libvirt-storage.h) -----------------------------------------------

    /// <summary>virDomainModificationImpact: the running guest, its persistent definition.</summary>
    internal const uint AffectLive = 1, AffectConfig = 2;

    /// <summary>VIR_DOMAIN_MEM_MAXIMUM, VIR_DOMAIN_VCPU_MAXIMUM: the maximum instead of the current value.</summary>
    internal const uint MemoryMaximum = 4, VcpuMaximum = 4;

    /// <summary>VIR_DOMAIN_METADATA_DESCRIPTION: the &lt;description&gt; element, escaped by libvirt.</summary>
    internal const int MetadataDescription = 0;

    /// <summary>virDomainUndefineFlagsValues.</summary>
    internal const uint UndefineManagedSave = 1, UndefineSnapshotsMetadata = 2, UndefineNvram = 4, UndefineCheckpointsMetadata = 16;

    /// <summary>struct _virNodeInfo (libvirt-host.h); memory in KiB (an unsigned long: 64 bits on Linux x86_64/aarch64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirNodeInfo
    {
        public fixed byte Model[32];
        public nuint Memory;
        public uint Cpus;
        public uint Mhz;
        public uint Nodes;
        public uint Sockets;
        public uint Cores;
        public uint Threads;
    }

    // ---- the host ----------------------------------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virNodeGetInfo(ConnectionHandle connection, out VirNodeInfo info);

    /// <summary>Returns a string the caller frees.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virConnectGetCapabilities(ConnectionHandle connection);

    /// <summary>VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES: list the features a named CPU model implies, not only the extra ones.</summary>
    internal const uint BaselineExpandFeatures = 1;

    /// <summary>Returns a string the caller frees.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virConnectBaselineCPU(ConnectionHandle connection, IntPtr* xmlCpus, uint count, uint flags);

    // ---- networks ----------------------------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virNetworkLookupByName(ConnectionHandle connection, string name);

    [LibraryImport(Library)]
    internal static partial int virNetworkIsActive(NetworkHandle network);

    [LibraryImport(Library)]
    internal static partial int virNetworkFree(IntPtr network);

    // ---- storage pools and volumes -----------------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virConnectListAllStoragePools(ConnectionHandle connection, out IntPtr* pools, uint flags);

    /// <summary>The pool's own copy: not freed by the caller. No RPC.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virStoragePoolGetName(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolIsActive(StoragePoolHandle pool);

    /// <summary>Returns a string the caller frees.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virStoragePoolGetXMLDesc(StoragePoolHandle pool, uint flags);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolDestroy(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolUndefine(StoragePoolHandle pool);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolRefresh(StoragePoolHandle pool, uint flags);

    [LibraryImport(Library)]
    internal static partial IntPtr virStoragePoolLookupByVolume(StorageVolumeHandle volume);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virStorageVolLookupByPath(ConnectionHandle connection, string path);

    /// <summary>Returns a string the caller frees: the volume's path as its daemon sees it.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virStorageVolGetPath(StorageVolumeHandle volume);

    [LibraryImport(Library)]
    internal static partial int virStorageVolDelete(StorageVolumeHandle volume, uint flags);

    // ---- domains: settings -------------------------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virDomainSetMemoryFlags(DomainHandle domain, nuint memoryKiB, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSetVcpusFlags(DomainHandle domain, uint count, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainSetMetadata(DomainHandle domain, int type, string? metadata, string? key, string? uri, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainRename(DomainHandle domain, string newName, uint flags);

    // ---- domains: what undefine must take along ------------------------------------------------------------

    /// <summary>virDomainListAllSnapshots with a NULL list: the number of snapshots only.</summary>
    [LibraryImport(Library, EntryPoint = "virDomainListAllSnapshots")]
    internal static partial int virDomainCountSnapshots(DomainHandle domain, IntPtr snapshots, uint flags);

    /// <summary>virDomainListAllCheckpoints (libvirt 5.6) with a NULL list: the number of checkpoints only.</summary>
    [LibraryImport(Library, EntryPoint = "virDomainListAllCheckpoints")]
    internal static partial int virDomainCountCheckpoints(DomainHandle domain, IntPtr checkpoints, uint flags);

    /// <summary>virNetworkPtr.</summary>
    internal sealed class NetworkHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public NetworkHandle() : base(ownsHandle: true) { }

        internal NetworkHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        protected override bool ReleaseHandle() => virNetworkFree(handle) == 0;
    }
}
