using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvmHost.Core.Guests;

/// <summary>
/// Every declaration of libvirt's C API the module uses (libvirt.so.0: libvirt-libs on RHEL, libvirt0 on
/// Debian), and the only file that imports it. Nothing but <see cref="LibvirtConnection"/> calls these:
/// it owns the handles, reads virGetLastError() on the failing thread and turns it into a KvmHostException.
/// Layouts are those of libvirt's public headers, stable since the calls were added (all before 1.2.15,
/// RHEL 7's libvirt 4.5 has every one).
/// </summary>
internal static unsafe partial class LibvirtNative
{
    /// <summary>The name the imports use; <see cref="EnsureLoaded"/> maps it to the versioned soname.</summary>
    private const string Library = "libvirt";
    internal const string Soname = "libvirt.so.0";

    private static readonly object Gate = new();
    private static IntPtr _library;

    /// <summary>
    /// Loads libvirt.so.0 once per process and silences libvirt's default error printer (which writes every
    /// error to stderr, where it would land in the admin's terminal next to the ErrorRecord). Throws
    /// LibvirtNotInstalled when the library is not there: without libvirt-libs/libvirt0 nothing else works.
    /// </summary>
    internal static void EnsureLoaded()
    {
        if (Volatile.Read(ref _library) != IntPtr.Zero) return;
        lock (Gate)
        {
            if (_library != IntPtr.Zero) return;
            if (!NativeLibrary.TryLoad(Soname, out IntPtr handle)) throw LibvirtErrors.LibraryMissing();
            NativeLibrary.SetDllImportResolver(typeof(LibvirtNative).Assembly, Resolve);
            Volatile.Write(ref _library, handle);
            virSetErrorFunc(IntPtr.Zero, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, void>)&IgnoreError);
        }
    }

    private static IntPtr Resolve(string name, System.Reflection.Assembly assembly, DllImportSearchPath? path) =>
        name == Library ? _library : IntPtr.Zero; // IntPtr.Zero: the runtime's default probing (libc for the others)

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreError(IntPtr userData, IntPtr error) { }

    // ---- constants (libvirt-domain.h, virterror.h) -----------------------------------------------------

    internal const uint ListActive = 1, ListInactive = 2, ListPersistent = 4, ListTransient = 8;
    internal const uint ListManagedSave = 256, ListAutostart = 1024;

    internal const uint StatsState = 1, StatsCpuTotal = 2, StatsBalloon = 4, StatsVcpu = 8, StatsBlock = 32;
    /// <summary>VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT (4.5.0): a guest busy in a job reports what it can instead of blocking the call.</summary>
    internal const uint StatsNoWait = 1u << 29;

    internal const uint XmlInactive = 2;
    internal const uint ShutdownAcpiPowerButton = 1;
    internal const uint RebootAcpiPowerButton = 1;
    internal const uint InterfaceAddressesLease = 0, InterfaceAddressesAgent = 1;
    internal const int IpAddressV4 = 0, IpAddressV6 = 1;

    // ---- errors ----------------------------------------------------------------------------------------

    /// <summary>struct _virError (virterror.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirError
    {
        public int Code;
        public int Domain;
        public IntPtr Message;
        public int Level;
        public IntPtr Connection;
        public IntPtr DomainObject;
        public IntPtr Str1;
        public IntPtr Str2;
        public IntPtr Str3;
        public int Int1;
        public int Int2;
        public IntPtr Network;
    }

    [LibraryImport(Library)]
    internal static partial VirError* virGetLastError();

    [LibraryImport(Library)]
    internal static partial void virResetLastError();

    [LibraryImport(Library)]
    private static partial void virSetErrorFunc(IntPtr userData, IntPtr handler);

    // ---- connections -----------------------------------------------------------------------------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virConnectOpen(string? name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virConnectOpenReadOnly(string? name);

    [LibraryImport(Library)]
    internal static partial int virConnectClose(IntPtr connection);

    /// <summary>Returns a string the caller frees.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virConnectGetHostname(ConnectionHandle connection);

    [LibraryImport(Library)]
    internal static partial int virConnectGetLibVersion(ConnectionHandle connection, out ulong version);

    // ---- domains: lookup and identity ------------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virConnectListAllDomains(ConnectionHandle connection, out IntPtr* domains, uint flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virDomainLookupByName(ConnectionHandle connection, string name);

    [LibraryImport(Library)]
    internal static partial IntPtr virDomainLookupByUUID(ConnectionHandle connection, byte* uuid);

    [LibraryImport(Library)]
    internal static partial int virDomainFree(IntPtr domain);

    /// <summary>The domain's own copy: not freed by the caller, valid while the handle lives. No RPC.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virDomainGetName(DomainHandle domain);

    /// <summary>Fills 16 bytes (VIR_UUID_BUFLEN). No RPC.</summary>
    [LibraryImport(Library)]
    internal static partial int virDomainGetUUID(DomainHandle domain, byte* uuid);

    /// <summary>The same call for a domain pointer owned by a statistics record list.</summary>
    [LibraryImport(Library, EntryPoint = "virDomainGetUUID")]
    internal static partial int virDomainGetUUIDOfPointer(IntPtr domain, byte* uuid);

    /// <summary>(unsigned)-1 when the domain is not running. No RPC.</summary>
    [LibraryImport(Library)]
    internal static partial uint virDomainGetID(DomainHandle domain);

    // ---- domains: state and description ----------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virDomainGetState(DomainHandle domain, out int state, out int reason, uint flags);

    /// <summary>Returns a string the caller frees.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virDomainGetXMLDesc(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainGetAutostart(DomainHandle domain, out int autostart);

    [LibraryImport(Library)]
    internal static partial int virDomainIsPersistent(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainHasManagedSaveImage(DomainHandle domain, uint flags);

    /// <summary>struct _virDomainStatsRecord (libvirt-domain.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirDomainStatsRecord
    {
        public IntPtr Domain;
        public IntPtr Parameters;
        public int ParameterCount;
    }

    [LibraryImport(Library)]
    internal static partial int virDomainListGetStats(IntPtr* domains, uint stats, out VirDomainStatsRecord** records, uint flags);

    [LibraryImport(Library)]
    internal static partial void virDomainStatsRecordListFree(VirDomainStatsRecord** records);

    /// <summary>struct _virDomainBlockInfo: capacity, allocation, physical, in bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirDomainBlockInfo
    {
        public ulong Capacity;
        public ulong Allocation;
        public ulong Physical;
    }

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainGetBlockInfo(DomainHandle domain, string disk, out VirDomainBlockInfo info, uint flags);

    /// <summary>struct _virStorageVolInfo: type, capacity, allocation (bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirStorageVolInfo
    {
        public int Type;
        public ulong Capacity;
        public ulong Allocation;
    }

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virStoragePoolLookupByName(ConnectionHandle connection, string name);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolFree(IntPtr pool);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virStorageVolLookupByName(StoragePoolHandle pool, string name);

    [LibraryImport(Library)]
    internal static partial int virStorageVolFree(IntPtr volume);

    [LibraryImport(Library)]
    internal static partial int virStoragePoolListAllVolumes(StoragePoolHandle pool, out IntPtr* volumes, uint flags);

    /// <summary>The volume's own copy: not freed by the caller. No RPC.</summary>
    [LibraryImport(Library)]
    internal static partial IntPtr virStorageVolGetName(StorageVolumeHandle volume);

    [LibraryImport(Library)]
    internal static partial int virStorageVolGetInfo(StorageVolumeHandle volume, out VirStorageVolInfo info);

    /// <summary>struct _virDomainInterface.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirDomainInterface
    {
        public IntPtr Name;
        public IntPtr HardwareAddress;
        public uint AddressCount;
        public VirDomainIpAddress* Addresses;
    }

    /// <summary>struct _virDomainIPAddress.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VirDomainIpAddress
    {
        public int Type;
        public IntPtr Address;
        public uint Prefix;
    }

    [LibraryImport(Library)]
    internal static partial int virDomainInterfaceAddresses(DomainHandle domain, out VirDomainInterface** interfaces, uint source, uint flags);

    [LibraryImport(Library)]
    internal static partial void virDomainInterfaceFree(VirDomainInterface* iface);

    // ---- domains: lifecycle ----------------------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int virDomainCreateWithFlags(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainShutdownFlags(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainDestroyFlags(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainManagedSave(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainReboot(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainReset(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSuspend(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainResume(DomainHandle domain);

    [LibraryImport(Library)]
    internal static partial int virDomainPMWakeup(DomainHandle domain, uint flags);

    [LibraryImport(Library)]
    internal static partial int virDomainSetAutostart(DomainHandle domain, int autostart);

    // ---- domains: definition (for part 2's New-/Remove-KvmGuest and the tests' fixtures) ---------------

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr virDomainDefineXML(ConnectionHandle connection, string xml);

    [LibraryImport(Library)]
    internal static partial int virDomainUndefineFlags(DomainHandle domain, uint flags);

    /// <summary>libc's free() for the strings and arrays libvirt hands over (NativeMemory.Free is free(3) on Unix).</summary>
    internal static void Free(void* pointer) => NativeMemory.Free(pointer);

    /// <summary>Reads and frees a string libvirt allocated for the caller.</summary>
    internal static string? TakeString(IntPtr pointer)
    {
        if (pointer == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(pointer); }
        finally { Free((void*)pointer); }
    }

    /// <summary>virConnectPtr: closed exactly once, even when a pipeline is stopped halfway.</summary>
    internal sealed class ConnectionHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public ConnectionHandle() : base(ownsHandle: true) { }

        internal ConnectionHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        // virConnectClose returns the remaining reference count (domains still alive hold one each); -1 is an error.
        protected override bool ReleaseHandle() => virConnectClose(handle) >= 0;
    }

    /// <summary>virStoragePoolPtr.</summary>
    internal sealed class StoragePoolHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public StoragePoolHandle() : base(ownsHandle: true) { }

        internal StoragePoolHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        protected override bool ReleaseHandle() => virStoragePoolFree(handle) == 0;
    }

    /// <summary>virStorageVolPtr.</summary>
    internal sealed class StorageVolumeHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public StorageVolumeHandle() : base(ownsHandle: true) { }

        internal StorageVolumeHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        protected override bool ReleaseHandle() => virStorageVolFree(handle) == 0;
    }

    /// <summary>virDomainPtr: freed exactly once. It keeps its connection's memory alive until then.</summary>
    internal sealed class DomainHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public DomainHandle() : base(ownsHandle: true) { }

        internal DomainHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        protected override bool ReleaseHandle() => virDomainFree(handle) == 0;
    }
}
