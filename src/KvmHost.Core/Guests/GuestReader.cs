using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>
/// Builds KvmGuest objects in bulk: one statistics call for all selected guests (state, CPU time, memory,
/// vCPUs, and the sizes of file and block disks, also of guests that are off), three filtered list calls for
/// autostart, managed save and persistence (instead of three calls per guest), then per guest only what
/// statistics cannot give: the domain XML, the sizes of a pool-volume disk of a guest that is off, and
/// addresses for running guests that can have any (DHCP leases of libvirt networks; the agent where one is
/// connected). The per-guest calls run a few at a time, while the bulk calls are still under way.
/// </summary>
public static class GuestReader
{
    private const uint Groups = StatsState | StatsCpuTotal | StatsBalloon | StatsVcpu | StatsBlock;

    // libvirtd serves up to five requests of one client at once (max_client_requests); four in flight keep it
    // busy without queueing. Below a handful of guests the threads would cost more than they save.
    private const int Concurrency = 4;
    private const int ParallelFrom = 8;

    /// <param name="guests">Guests of one connection.</param>
    /// <param name="keep">Which states to report; decided from the bulk statistics before anything else is read.</param>
    public static IReadOnlyList<KvmGuest> Read(IReadOnlyList<GuestEntry> guests, Func<GuestState, bool>? keep = null)
    {
        if (guests.Count == 0) return [];
        LibvirtConnection connection = guests[0].Connection;
        if (guests.Any(g => g.Connection != connection)) throw new ArgumentException("The guests must come from one connection.", nameof(guests));

        // Per guest, the XML and what the guest's state decides: addresses of a running guest, the disk sizes of
        // one that is off (libvirt knows which guests run from the list call: a running one has an id). The
        // storage driver answers a pool's size calls one at a time (it holds the pool's lock), so they go down
        // one queue on their own thread while the XML calls go on; without a state filter all of it runs while
        // the bulk calls are under way.
        Bulk bulk;
        IReadOnlyList<GuestEntry> selected;
        GuestDetails[] details;
        using (var volumes = new VolumeSizes(connection))
        {
            GuestDetails Fetch(GuestEntry guest)
            {
                bool active = LibvirtConnection.IdOf(guest.Handle) is not null;
                DomainXml xml = ReadXml(connection, guest);
                var sizes = new (long Capacity, long Allocation)?[xml.Disks.Count];
                // File and block disks have their sizes in the bulk statistics even while the guest is off; a pool
                // volume only once the guest runs.
                if (!active)
                    for (int n = 0; n < sizes.Length; n++)
                        if (xml.Disks[n] is { Source: not null, Type: "volume", Pool: { } pool, Volume: { } volume }) volumes.Ask(pool, volume, sizes, n);
                return new GuestDetails(xml, active ? Addresses(connection, guest, xml) : [], sizes);
            }
            if (keep is null)
            {
                var reading = Task.Run(() => Bulk.Read(connection, guests));
                selected = guests;
                details = ForEach(selected, Fetch);
                bulk = Wait(reading);
            }
            else
            {
                bulk = Bulk.Read(connection, guests);
                selected = guests.Where(g => keep(bulk.States[g.Uuid].State)).ToList();
                if (selected.Count == 0) return [];
                details = ForEach(selected, Fetch);
            }
            volumes.Finish();
        }
        var (stats, states) = (bulk.Stats, bulk.States);
        // A driver whose statistics lack a file disk's sizes (older libvirt, the test driver): ask per disk.
        for (int i = 0; i < selected.Count; i++)
        {
            if (GuestStateReasons.IsActive(states[selected[i].Uuid].State)) continue;
            stats.TryGetValue(selected[i].Uuid, out DomainStats? stat);
            var (xml, _, sizes) = details[i];
            for (int n = 0; n < sizes.Length; n++)
                if (sizes[n] is null && xml.Disks[n] is { Source: not null, Type: "file" or "block", Target.Length: > 0 } disk
                    && stat?.Blocks.FirstOrDefault(b => b.Name == disk.Target)?.CapacityBytes is null)
                    sizes[n] = connection.GetBlockSizes(selected[i].Handle, disk.Target);
        }
        connection.FlushLog();
        var (autostart, managedSave, transient, host) = (bulk.Autostart, bulk.ManagedSave, bulk.Transient, bulk.HostName);

        var running = selected.Where(g => GuestStateReasons.IsActive(states[g.Uuid].State)).Select(g => g.Uuid).ToHashSet();
        var started = LibvirtUri.IsLocal(connection.Uri) ? GuestProcesses.StartTimes(running) : [];
        DateTime now = DateTime.UtcNow;

        var result = new List<KvmGuest>(selected.Count);
        for (int i = 0; i < selected.Count; i++)
        {
            var guest = selected[i];
            var (state, reason) = states[guest.Uuid];
            stats.TryGetValue(guest.Uuid, out DomainStats? stat);
            var (xml, addresses, sizes) = details[i];
            bool active = running.Contains(guest.Uuid);
            result.Add(new KvmGuest
            {
                Name = guest.Name,
                Uuid = guest.Uuid,
                Id = LibvirtConnection.IdOf(guest.Handle),
                State = state,
                StateReason = GuestStateReasons.Describe(state, reason),
                ProcessorCount = (int)(stat?.VcpuCurrent ?? xml.CurrentVcpus ?? 0),
                MaximumProcessorCount = (int)(stat?.VcpuMaximum ?? xml.Vcpus ?? 0),
                MemoryBytes = (stat?.BalloonCurrentKiB ?? xml.CurrentMemoryKiB ?? xml.MemoryKiB ?? 0) * 1024,
                MaximumMemoryBytes = (stat?.BalloonMaximumKiB ?? xml.MemoryKiB ?? 0) * 1024,
                CpuTime = active && stat?.CpuTimeNanoseconds is { } ns ? TimeSpan.FromTicks(ns / 100) : null,
                Uptime = active && started.TryGetValue(guest.Uuid, out DateTime start) && now > start ? now - start : null,
                Autostart = autostart.Contains(guest.Uuid),
                Persistent = !transient.Contains(guest.Uuid),
                HasManagedSave = managedSave.Contains(guest.Uuid),
                Disks = xml.Disks.Select((d, n) => Disk(guest.Name, d, stat, sizes[n])).ToArray(),
                NetworkAdapters = xml.Interfaces.Select(n => new KvmGuestNetworkAdapter
                {
                    GuestName = guest.Name,
                    MacAddress = n.MacAddress,
                    Type = n.Type,
                    Bridge = n.Bridge,
                    Network = n.Network,
                    Model = n.Model,
                    Device = n.Device,
                    IPAddresses = n.MacAddress is not null && addresses.TryGetValue(n.MacAddress, out var ips) ? ips.ToArray() : [],
                }).ToArray(),
                OsInfoId = xml.OsInfoId,
                OsVariant = DomainXml.ShortOsVariant(xml.OsInfoId),
                Description = xml.Description,
                ComputerName = host,
                Uri = connection.Uri,
            });
        }
        return result;
    }

    /// <summary>Usable addresses per MAC: loopback and link-local ones (the agent reports lo and fe80::) are no way to reach a guest.</summary>
    internal static Dictionary<string, List<string>> Addresses(LibvirtConnection connection, GuestEntry guest, DomainXml xml)
    {
        var merged = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        // Lease addresses exist only for adapters on a libvirt network (its dnsmasq hands them out).
        if (xml.Interfaces.Any(i => i.Type == "network")) Merge(merged, connection.GetAddresses(guest.Handle, InterfaceAddressesLease));
        // Never ask an agent that is not connected: the call would wait for it.
        if (xml.AgentConnected) Merge(merged, connection.GetAddresses(guest.Handle, InterfaceAddressesAgent));
        return merged;
    }

    private static void Merge(Dictionary<string, List<string>> into, Dictionary<string, List<string>> from)
    {
        foreach (var (mac, addresses) in from)
        {
            if (!into.TryGetValue(mac, out var list)) into[mac] = list = [];
            foreach (string address in addresses)
                if (IsReachable(address) && !list.Contains(address)) list.Add(address);
        }
    }

    internal static bool IsReachable(string address) =>
        System.Net.IPAddress.TryParse(address, out var ip) && !System.Net.IPAddress.IsLoopback(ip) && !ip.IsIPv6LinkLocal
        && !(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && ip.GetAddressBytes() is [169, 254, ..]);

    private static DomainXml ReadXml(LibvirtConnection connection, GuestEntry guest)
    {
        string text = connection.GetXml(guest.Handle);
        try
        {
            return DomainXml.Parse(text);
        }
        catch (InvalidDataException e)
        {
            throw new KvmHostException(ErrorIds.LibvirtCallFailed, FailureKind.InvalidData,
                $"libvirt returned a domain XML for guest '{guest.Name}' that cannot be read: {e.Message}", guest.Name);
        }
    }

    /// <summary>A disk as reported: a running guest's sizes come from the bulk statistics, an idle one's from its image.</summary>
    private static KvmGuestDisk Disk(string guestName, DomainDisk disk, DomainStats? stats, (long Capacity, long Allocation)? imageSizes)
    {
        BlockStats? block = stats?.Blocks.FirstOrDefault(b => b.Name == disk.Target);
        var sizes = block?.CapacityBytes is { } capacity ? (capacity, block.AllocationBytes ?? 0) : imageSizes;
        return new KvmGuestDisk
        {
            GuestName = guestName,
            Target = disk.Target,
            Device = disk.Device,
            Bus = disk.Bus,
            Type = disk.Type,
            Source = disk.Source,
            Format = disk.Format,
            ReadOnly = disk.ReadOnly,
            CapacityBytes = sizes?.Capacity,
            AllocationBytes = sizes?.Allocation,
        };
    }

    private sealed record GuestDetails(DomainXml Xml, Dictionary<string, List<string>> Addresses, (long Capacity, long Allocation)?[] DiskSizes);

    /// <summary>
    /// One call per guest, a few at a time (libvirtd serves up to five requests of one client at once,
    /// max_client_requests; four in flight keep it busy without queueing); in order.
    /// </summary>
    private static T[] ForEach<TItem, T>(IReadOnlyList<TItem> items, Func<TItem, T> read)
    {
        var results = new T[items.Count];
        if (items.Count < ParallelFrom)
        {
            for (int i = 0; i < items.Count; i++) results[i] = read(items[i]);
            return results;
        }
        try
        {
            Parallel.For(0, items.Count, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, i => results[i] = read(items[i]));
        }
        catch (AggregateException failed) when (failed.InnerExceptions.FirstOrDefault(e => e is KvmHostException) is { } first)
        {
            ExceptionDispatchInfo.Capture(first).Throw();
        }
        return results;
    }

    private static T Wait<T>(Task<T> task)
    {
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (AggregateException failed) when (failed.InnerException is KvmHostException first)
        {
            ExceptionDispatchInfo.Capture(first).Throw();
            throw;
        }
    }

    /// <summary>
    /// What a few calls say about all guests at once: one statistics call (state, CPU time, memory, vCPUs,
    /// disk sizes of running guests), three filtered lists instead of three calls per guest, the host's name.
    /// </summary>
    private sealed record Bulk(Dictionary<Guid, DomainStats> Stats, Dictionary<Guid, (GuestState State, int Reason)> States,
        HashSet<Guid> Autostart, HashSet<Guid> ManagedSave, HashSet<Guid> Transient, string HostName)
    {
        public static Bulk Read(LibvirtConnection connection, IReadOnlyList<GuestEntry> guests)
        {
            var stats = connection.GetStats(guests.Select(g => g.Handle).ToList(), Groups);
            var states = new Dictionary<Guid, (GuestState State, int Reason)>();
            foreach (var guest in guests)
                states[guest.Uuid] = stats.TryGetValue(guest.Uuid, out var s) && s.State is { } state
                    ? (GuestStateReasons.StateOf(state), s.Reason ?? 0)
                    : connection.GetState(guest.Handle); // a driver without bulk statistics, or a guest NOWAIT skipped
            return new Bulk(stats, states, connection.ListUuids(ListAutostart), connection.ListUuids(ListManagedSave),
                connection.ListUuids(ListTransient), connection.HostName);
        }
    }

    /// <summary>
    /// The sizes of pool volumes, asked by threads of their own while the XML calls go on: libvirt resolves a pool
    /// volume to its image only when the guest starts, so a volume disk of a guest that is off is asked of its pool
    /// (each pool's volumes listed once), and the storage driver answers a pool's calls one at a time (it holds the
    /// pool's lock), which callers waiting on it in turn would only make longer. <see cref="Finish"/> waits until
    /// every answer is in the arrays given.
    /// </summary>
    private sealed class VolumeSizes : IDisposable
    {
        private const int Askers = 3;
        private readonly LibvirtConnection _connection;
        private readonly BlockingCollection<(string Pool, string Volume, (long Capacity, long Allocation)?[] Into, int Index)> _asked = [];
        private readonly ConcurrentDictionary<string, Lazy<Dictionary<string, StorageVolumeHandle>>> _pools = new(StringComparer.Ordinal);
        private readonly Task[] _answering;

        public VolumeSizes(LibvirtConnection connection)
        {
            _connection = connection;
            _answering = Enumerable.Range(0, Askers)
                .Select(_ => Task.Factory.StartNew(Answer, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
                .ToArray();
        }

        public void Ask(string pool, string volume, (long Capacity, long Allocation)?[] into, int index) => _asked.Add((pool, volume, into, index));

        public void Finish()
        {
            _asked.CompleteAdding();
            Task.WaitAll(_answering);
        }

        private void Answer()
        {
            foreach (var (pool, volume, into, index) in _asked.GetConsumingEnumerable())
            {
                var volumes = _pools.GetOrAdd(pool, name => new Lazy<Dictionary<string, StorageVolumeHandle>>(() => _connection.ListVolumes(name))).Value;
                if (volumes.TryGetValue(volume, out var handle)) into[index] = _connection.GetVolumeSizes(handle, $"{pool}/{volume}");
            }
        }

        public void Dispose()
        {
            if (!_asked.IsAddingCompleted) _asked.CompleteAdding();
            Task.WaitAll(_answering);
            foreach (var pool in _pools.Values.Where(p => p.IsValueCreated))
                foreach (var handle in pool.Value.Values) handle.Dispose();
            _asked.Dispose();
        }
    }
}
