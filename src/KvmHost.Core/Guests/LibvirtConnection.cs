using System.Runtime.InteropServices;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>How a cmdlet needs its connection.</summary>
public enum LibvirtAccess
{
    /// <summary>Read-write, or fail: for changes.</summary>
    ReadWrite,

    /// <summary>
    /// Read-write when allowed, else read-only (libvirt's world-readable -ro socket): reading and -WhatIf work
    /// without root; a change attempted later fails with the reason the read-write open was refused.
    /// </summary>
    PreferReadWrite,
}

/// <summary>
/// The one owner of a libvirt connection (virConnectPtr) and of every call made through it, the way the
/// process runner owns processes: handles are SafeHandles (always freed), each failure is read from
/// virGetLastError() on the failing thread at once and becomes a KvmHostException with a stable id, every
/// call that changes something is logged (the cmdlets pass Write-Verbose), and opening can be cancelled.
/// Part 2 and 3 add their calls to this class (its other files: LibvirtConnection.*.cs), never elsewhere.
/// </summary>
public sealed unsafe partial class LibvirtConnection : IDisposable
{
    private readonly ConnectionHandle _handle;
    private readonly Action<string>? _log;
    private readonly KvmHostException? _writeRefused;
    private readonly int _ownerThread = Environment.CurrentManagedThreadId;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _laterLog = new();
    private string? _hostName;
    private bool _statsNoWait = true;

    private LibvirtConnection(string uri, ConnectionHandle handle, KvmHostException? writeRefused, Action<string>? log)
    {
        Uri = uri;
        _handle = handle;
        _writeRefused = writeRefused;
        _log = log;
    }

    public string Uri { get; }

    /// <summary>True when only a read-only connection was allowed (see <see cref="LibvirtAccess.PreferReadWrite"/>).</summary>
    public bool IsReadOnly => _writeRefused is not null;

    /// <summary>
    /// Opens <paramref name="uri"/>. The native open cannot be interrupted (an ssh URI may wait on the network),
    /// so it runs on its own thread: Ctrl+C returns at once and the late connection is closed when it arrives.
    /// </summary>
    public static LibvirtConnection Open(string uri, LibvirtAccess access, CancellationToken cancellation, Action<string>? log = null)
    {
        LibvirtUri.Validate(uri);
        cancellation.ThrowIfCancellationRequested();
        EnsureLoaded();
        log?.Invoke($"libvirt: connecting to {uri}");
        try
        {
            return new LibvirtConnection(uri, OpenOnOwnThread(uri, readOnly: false, cancellation), null, log);
        }
        catch (KvmHostException refused) when (access == LibvirtAccess.PreferReadWrite && refused.ErrorId == ErrorIds.LibvirtAccessDenied)
        {
            log?.Invoke($"libvirt: read-write refused ({refused.Message}); reading through a read-only connection");
            return new LibvirtConnection(uri, OpenOnOwnThread(uri, readOnly: true, cancellation), refused, log);
        }
    }

    private static ConnectionHandle OpenOnOwnThread(string uri, bool readOnly, CancellationToken cancellation)
    {
        var opening = Task.Factory.StartNew(() =>
        {
            IntPtr pointer = readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri);
            if (pointer == IntPtr.Zero) throw LibvirtErrors.ForConnect(TakeLastError(), uri);
            return new ConnectionHandle(pointer);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            opening.Wait(cancellation);
        }
        catch (OperationCanceledException)
        {
            opening.ContinueWith(t => { if (t.IsCompletedSuccessfully) t.Result.Dispose(); }, TaskScheduler.Default);
            throw;
        }
        catch (AggregateException)
        {
            // rethrown unwrapped below
        }
        return opening.GetAwaiter().GetResult();
    }

    /// <summary>The host's name as libvirt reports it (one call, remembered).</summary>
    public string HostName => _hostName ??= TakeString(virConnectGetHostname(_handle)) ?? throw Failure("virConnectGetHostname", null);

    /// <summary>Throws the reason the read-write connection was refused, before any change is attempted on a read-only one.</summary>
    public void RequireWritable()
    {
        if (_writeRefused is { } refused)
            throw new KvmHostException(refused.ErrorId, refused.Kind, refused.Message, refused.Target, refused.Hint);
    }

    public void Dispose() => _handle.Dispose();

    // ---- lookup and identity --------------------------------------------------------------------------

    /// <summary>virConnectListAllDomains with VIR_CONNECT_LIST_DOMAINS_* filter flags (0: every guest).</summary>
    internal List<DomainHandle> ListDomains(uint flags)
    {
        int count = virConnectListAllDomains(_handle, out IntPtr* domains, flags);
        if (count < 0) throw Failure("virConnectListAllDomains", null);
        var handles = new List<DomainHandle>(count);
        try
        {
            for (int i = 0; i < count; i++) handles.Add(new DomainHandle(domains[i]));
        }
        finally
        {
            Free(domains);
        }
        return handles;
    }

    /// <summary>The UUIDs of the guests a filter selects (e.g. autostart ones): one call for all guests instead of one per guest.</summary>
    internal HashSet<Guid> ListUuids(uint flags)
    {
        var uuids = new HashSet<Guid>();
        foreach (var domain in ListDomains(flags))
            using (domain) uuids.Add(UuidOf(domain));
        return uuids;
    }

    internal DomainHandle LookupByName(string name)
    {
        IntPtr pointer = virDomainLookupByName(_handle, name);
        return pointer == IntPtr.Zero ? throw Failure("virDomainLookupByName", name) : new DomainHandle(pointer);
    }

    internal DomainHandle LookupByUuid(Guid uuid)
    {
        Span<byte> raw = stackalloc byte[16];
        uuid.TryWriteBytes(raw, bigEndian: true, out _);
        IntPtr pointer;
        fixed (byte* bytes = raw) pointer = virDomainLookupByUUID(_handle, bytes);
        return pointer == IntPtr.Zero ? throw Failure("virDomainLookupByUUID", uuid.ToString()) : new DomainHandle(pointer);
    }

    internal static string NameOf(DomainHandle domain) =>
        Marshal.PtrToStringUTF8(virDomainGetName(domain)) ?? string.Empty;

    internal static Guid UuidOf(DomainHandle domain)
    {
        Span<byte> raw = stackalloc byte[16];
        fixed (byte* bytes = raw)
            if (virDomainGetUUID(domain, bytes) < 0) { TakeLastError(); return Guid.Empty; }
        return new Guid(raw, bigEndian: true);
    }

    internal static int? IdOf(DomainHandle domain) => virDomainGetID(domain) is var id && id == uint.MaxValue ? null : (int)id;

    // ---- reading ---------------------------------------------------------------------------------------

    internal (GuestState State, int Reason) GetState(DomainHandle domain)
    {
        if (virDomainGetState(domain, out int state, out int reason, 0) < 0) throw FailureAbout(domain, "virDomainGetState");
        return (GuestStateReasons.StateOf(state), reason);
    }

    internal string GetXml(DomainHandle domain, bool inactive = false) =>
        TakeString(virDomainGetXMLDesc(domain, inactive ? XmlInactive : 0)) ?? throw FailureAbout(domain, "virDomainGetXMLDesc");

    internal bool GetAutostart(DomainHandle domain) =>
        virDomainGetAutostart(domain, out int autostart) < 0 ? throw FailureAbout(domain, "virDomainGetAutostart") : autostart != 0;

    internal bool IsPersistent(DomainHandle domain) =>
        virDomainIsPersistent(domain) is var result and >= 0 ? result == 1 : throw FailureAbout(domain, "virDomainIsPersistent");

    internal bool HasManagedSave(DomainHandle domain) =>
        virDomainHasManagedSaveImage(domain, 0) is var result and >= 0 ? result == 1 : throw FailureAbout(domain, "virDomainHasManagedSaveImage");

    /// <summary>
    /// The bulk statistics of the given guests in one call (virDomainListGetStats), by UUID. A driver
    /// without the call gives an empty map; the caller then asks each guest's state itself.
    /// </summary>
    internal Dictionary<Guid, DomainStats> GetStats(IReadOnlyList<DomainHandle> domains, uint groups)
    {
        var result = new Dictionary<Guid, DomainStats>();
        if (domains.Count == 0) return result;
        var pointers = new IntPtr[domains.Count + 1]; // NULL-terminated
        var added = new List<DomainHandle>(domains.Count);
        try
        {
            for (int i = 0; i < domains.Count; i++)
            {
                bool ok = false;
                domains[i].DangerousAddRef(ref ok);
                added.Add(domains[i]);
                pointers[i] = domains[i].DangerousGetHandle();
            }
            VirDomainStatsRecord** records;
            int count;
            fixed (IntPtr* list = pointers)
            {
                count = virDomainListGetStats(list, groups, out records, _statsNoWait ? StatsNoWait : 0);
                if (count < 0)
                {
                    LibvirtError error = TakeLastError();
                    if (error.Code == LibvirtErrors.InvalidArgument && _statsNoWait)
                    {
                        _statsNoWait = false; // a driver that predates or ignores NOWAIT (the test driver)
                        count = virDomainListGetStats(list, groups, out records, 0);
                        if (count < 0) error = TakeLastError();
                    }
                    if (count < 0)
                    {
                        if (error.Code is LibvirtErrors.NoSupport or LibvirtErrors.OperationUnsupported) return result;
                        throw LibvirtErrors.ForCall(error, Uri, "virDomainListGetStats", null);
                    }
                }
            }
            try
            {
                for (int i = 0; i < count; i++)
                {
                    VirDomainStatsRecord* record = records[i];
                    if (record == null || record->Domain == IntPtr.Zero) continue;
                    var values = TypedParameters.Parse(
                        new ReadOnlySpan<byte>((void*)record->Parameters, Math.Max(0, record->ParameterCount) * TypedParameters.EntrySize),
                        record->ParameterCount, pointer => Marshal.PtrToStringUTF8(new IntPtr(pointer)));
                    // The record list owns its domain references; they are read here and freed with the list.
                    result[UuidOfPointer(record->Domain)] = DomainStats.From(values);
                }
            }
            finally
            {
                virDomainStatsRecordListFree(records);
            }
        }
        finally
        {
            foreach (var domain in added) domain.DangerousRelease();
        }
        return result;
    }

    private static Guid UuidOfPointer(IntPtr domain)
    {
        Span<byte> raw = stackalloc byte[16];
        fixed (byte* bytes = raw)
            if (virDomainGetUUIDOfPointer(domain, bytes) < 0) { TakeLastError(); return Guid.Empty; }
        return new Guid(raw, bigEndian: true);
    }

    /// <summary>
    /// A disk's sizes from its image (virDomainGetBlockInfo): what the bulk statistics do not report for a guest
    /// that is not running. Null when the image cannot be read (missing, a network disk): never a failed read.
    /// </summary>
    internal (long Capacity, long Allocation)? GetBlockSizes(DomainHandle domain, string target)
    {
        if (virDomainGetBlockInfo(domain, target, out VirDomainBlockInfo info, 0) < 0)
        {
            LibvirtError error = TakeLastError();
            Log($"libvirt: no sizes for disk {target} of {NameOf(domain)}: {error.Message}");
            return null;
        }
        return ((long)Math.Min(info.Capacity, long.MaxValue), (long)Math.Min(info.Allocation, long.MaxValue));
    }

    /// <summary>
    /// The volumes of a storage pool by name, from one list call (for the sizes of disks of type volume, whose
    /// image libvirt only resolves when the guest starts). Empty when the pool is not there or not active.
    /// The caller disposes the handles.
    /// </summary>
    internal Dictionary<string, StorageVolumeHandle> ListVolumes(string pool)
    {
        var volumes = new Dictionary<string, StorageVolumeHandle>(StringComparer.Ordinal);
        IntPtr poolPointer = virStoragePoolLookupByName(_handle, pool);
        if (poolPointer == IntPtr.Zero)
        {
            Log($"libvirt: no storage pool {pool}: {TakeLastError().Message}");
            return volumes;
        }
        using var poolHandle = new StoragePoolHandle(poolPointer);
        int count = virStoragePoolListAllVolumes(poolHandle, out IntPtr* list, 0);
        if (count < 0)
        {
            Log($"libvirt: cannot list the volumes of pool {pool}: {TakeLastError().Message}");
            return volumes;
        }
        try
        {
            for (int i = 0; i < count; i++)
            {
                var volume = new StorageVolumeHandle(list[i]);
                string? name = Marshal.PtrToStringUTF8(virStorageVolGetName(volume));
                if (name is null || !volumes.TryAdd(name, volume)) volume.Dispose();
            }
        }
        finally
        {
            Free(list);
        }
        return volumes;
    }

    /// <summary>A volume's capacity and allocation; null (and a Verbose line) when libvirt cannot say.</summary>
    internal (long Capacity, long Allocation)? GetVolumeSizes(StorageVolumeHandle volume, string shownName)
    {
        if (virStorageVolGetInfo(volume, out VirStorageVolInfo info) < 0)
        {
            Log($"libvirt: no sizes for volume {shownName}: {TakeLastError().Message}");
            return null;
        }
        return ((long)Math.Min(info.Capacity, long.MaxValue), (long)Math.Min(info.Allocation, long.MaxValue));
    }

    /// <summary>
    /// Addresses per MAC address from the libvirt network's DHCP leases or the guest agent. Failures (no
    /// agent, a driver without the call) give none: addresses are a nicety, never a reason to fail a read.
    /// </summary>
    internal Dictionary<string, List<string>> GetAddresses(DomainHandle domain, uint source)
    {
        var byMac = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        int count = virDomainInterfaceAddresses(domain, out VirDomainInterface** interfaces, source, 0);
        if (count < 0)
        {
            LibvirtError error = TakeLastError();
            Log($"libvirt: no addresses from {(source == InterfaceAddressesAgent ? "the guest agent" : "DHCP leases")} for {NameOf(domain)}: {error.Message}");
            return byMac;
        }
        try
        {
            for (int i = 0; i < count; i++)
            {
                VirDomainInterface* iface = interfaces[i];
                string? mac = Marshal.PtrToStringUTF8(iface->HardwareAddress);
                if (mac is null) continue;
                if (!byMac.TryGetValue(mac, out var list)) byMac[mac] = list = [];
                for (uint a = 0; a < iface->AddressCount && a < 1024; a++)
                    if (Marshal.PtrToStringUTF8(iface->Addresses[a].Address) is { } address) list.Add(address);
            }
        }
        finally
        {
            for (int i = 0; i < count; i++) virDomainInterfaceFree(interfaces[i]);
            Free(interfaces);
        }
        return byMac;
    }

    // ---- changing --------------------------------------------------------------------------------------

    internal void Start(DomainHandle domain) => Change(domain, "virDomainCreateWithFlags", "start (or restore its saved state)", d => virDomainCreateWithFlags(d, 0));

    // A driver that cannot press the power button refuses the flag as an invalid argument (virCheckFlags);
    // without the flag the driver would pick a method itself, maybe the guest agent, which can block for a minute.
    internal void Shutdown(DomainHandle domain) =>
        Change(domain, "virDomainShutdownFlags", "ACPI power button", d => virDomainShutdownFlags(d, ShutdownAcpiPowerButton), flagRefusedMeans: AcpiUnsupported);

    internal void Destroy(DomainHandle domain) => Change(domain, "virDomainDestroyFlags", "power off", d => virDomainDestroyFlags(d, 0));

    internal void ManagedSave(DomainHandle domain) => Change(domain, "virDomainManagedSave", "save memory to the host, then stop", d => virDomainManagedSave(d, 0));

    internal void Reboot(DomainHandle domain) =>
        Change(domain, "virDomainReboot", "ACPI power button, then start again", d => virDomainReboot(d, RebootAcpiPowerButton), flagRefusedMeans: AcpiUnsupported);

    internal void Reset(DomainHandle domain) => Change(domain, "virDomainReset", "hardware reset", d => virDomainReset(d, 0));

    internal void Suspend(DomainHandle domain) => Change(domain, "virDomainSuspend", "pause the virtual CPUs", virDomainSuspend);

    internal void Resume(DomainHandle domain) => Change(domain, "virDomainResume", "resume the virtual CPUs", virDomainResume);

    internal void Wakeup(DomainHandle domain) => Change(domain, "virDomainPMWakeup", "wake from guest suspend", d => virDomainPMWakeup(d, 0));

    internal void SetAutostart(DomainHandle domain, bool autostart) =>
        Change(domain, "virDomainSetAutostart", autostart ? "on" : "off", d => virDomainSetAutostart(d, autostart ? 1 : 0));

    /// <summary>Defines (or redefines) a persistent guest from its XML; for part 2's New-KvmGuest and the tests.</summary>
    internal DomainHandle Define(string xml)
    {
        RequireWritable();
        Log("libvirt: virDomainDefineXML");
        IntPtr pointer = virDomainDefineXML(_handle, xml);
        return pointer == IntPtr.Zero ? throw Failure("virDomainDefineXML", null) : new DomainHandle(pointer);
    }

    internal void Undefine(DomainHandle domain, uint flags) =>
        Change(domain, "virDomainUndefineFlags", $"flags 0x{flags:x}", d => virDomainUndefineFlags(d, flags));

    private void Change(DomainHandle domain, string call, string what, Func<DomainHandle, int> invoke,
        Func<string, string, KvmHostException>? flagRefusedMeans = null)
    {
        RequireWritable();
        string name = NameOf(domain);
        Log($"libvirt: {call} {name} ({what}) on {Uri}");
        if (invoke(domain) >= 0) return;
        KvmHostException failure = Failure(call, name, domain);
        throw flagRefusedMeans is not null && failure.ErrorId == ErrorIds.LibvirtCallFailed && failure.Kind == FailureKind.InvalidArgument
            ? flagRefusedMeans(name, failure.Message)
            : failure;
    }

    private KvmHostException AcpiUnsupported(string guest, string detail) =>
        new(ErrorIds.LibvirtOperationUnsupported, FailureKind.NotImplemented,
            $"The hypervisor driver behind {Uri} cannot press guest '{guest}''s ACPI power button ({detail}).", guest,
            "Stop-KvmGuest -TurnOff or -Save, or Restart-KvmGuest -Force, work without it.");

    /// <summary>
    /// The log callback is the cmdlet's Write-Verbose, which only its own thread may call: lines from the
    /// reader's worker threads wait here and are written by the next line logged on that thread, or by
    /// <see cref="FlushLog"/>.
    /// </summary>
    private void Log(string line)
    {
        if (_log is null) return;
        if (Environment.CurrentManagedThreadId != _ownerThread)
        {
            _laterLog.Enqueue(line);
            return;
        }
        FlushLog();
        _log(line);
    }

    internal void FlushLog()
    {
        if (_log is null || Environment.CurrentManagedThreadId != _ownerThread) return;
        while (_laterLog.TryDequeue(out string? line)) _log(line);
    }

    // ---- errors ----------------------------------------------------------------------------------------

    /// <summary>
    /// The failure of a call about <paramref name="domain"/>. The error is taken before the guest's name is read:
    /// every libvirt call (virDomainGetName too) clears the thread's last error first, so a name read as an argument
    /// (Failure(call, NameOf(domain))) left "no error" behind and a vanished guest was not GuestNotFound.
    /// </summary>
    private KvmHostException FailureAbout(DomainHandle domain, string call)
    {
        LibvirtError error = TakeLastError();
        return LibvirtErrors.ForCall(error, Uri, call, NameOf(domain));
    }

    /// <summary>The last error of this thread as a KvmHostException; for a state refusal, with the state the guest is in.</summary>
    private KvmHostException Failure(string call, string? guest, DomainHandle? domain = null) => Failure(TakeLastError(), call, guest, domain);

    /// <summary>The same for an error already taken (a caller that first looks at its code).</summary>
    private KvmHostException Failure(LibvirtError error, string call, string? guest, DomainHandle? domain)
    {
        string? state = null;
        if (error.Code == LibvirtErrors.OperationInvalid && domain is not null
            && virDomainGetState(domain, out int current, out int reason, 0) >= 0)
        {
            var known = GuestStateReasons.StateOf(current);
            state = $"{known} ({GuestStateReasons.Describe(known, reason)})";
        }
        else if (domain is not null)
        {
            virResetLastError();
        }
        return LibvirtErrors.ForCall(error, Uri, call, guest, state);
    }

    private static LibvirtError TakeLastError()
    {
        VirError* error = virGetLastError();
        if (error == null) return new LibvirtError(0, 0, "libvirt reported a failure but no error", 0);
        var copy = new LibvirtError(error->Code, error->Domain, Marshal.PtrToStringUTF8(error->Message) ?? "(no message)", error->Int1);
        virResetLastError();
        return copy;
    }
}
