using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvmHost.Core.Guests;

/// <summary>
/// libvirt's snapshot API (libvirt-domain-snapshot.h), which the checkpoint cmdlets use. Every call here exists
/// since libvirt 0.9.13 (ListAllSnapshots) or earlier, so RHEL 7's libvirt 4.5 has them all; the TOPOLOGICAL list
/// flag is 3.2.0, and a daemon without it refuses the flag (the caller then lists without it).
/// </summary>
internal static unsafe partial class LibvirtNative
{
    // virDomainSnapshotCreateFlags
    internal const uint SnapshotCreateAtomic = 1u << 7;

    // virDomainSnapshotListFlags
    internal const uint SnapshotListTopological = 1u << 10;

    // virDomainSnapshotDeleteFlags
    internal const uint SnapshotDeleteChildren = 1u << 0;

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virDomainSnapshotCreateXML(DomainHandle domain, string xml, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainListAllSnapshots(DomainHandle domain, out IntPtr* snapshots, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virDomainSnapshotLookupByName(DomainHandle domain, string name, uint flags);

    /// <summary>The current snapshot, or NULL with VIR_ERR_NO_DOMAIN_SNAPSHOT when there is none.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virDomainSnapshotCurrent(DomainHandle domain, uint flags);

    /// <summary>The snapshot's own copy: not freed by the caller. No RPC.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virDomainSnapshotGetName(SnapshotHandle snapshot);

    /// <summary>Returns a string the caller frees.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virDomainSnapshotGetXMLDesc(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainRevertToSnapshot(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSnapshotDelete(SnapshotHandle snapshot, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSnapshotFree(IntPtr snapshot);

    /// <summary>virDomainSnapshotPtr: freed exactly once.</summary>
    internal sealed class SnapshotHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public SnapshotHandle() : base(ownsHandle: true) { }

        internal SnapshotHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        protected override bool ReleaseHandle() => virDomainSnapshotFree(handle) == 0;
    }
}
