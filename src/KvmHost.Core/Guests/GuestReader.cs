using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>
/// Builds KvmGuest objects in bulk: one statistics call for all selected guests (state, CPU time, memory,
/// vCPUs, disk sizes of running guests), three filtered list calls for autostart, managed save and
/// persistence (instead of three calls per guest), then per guest only what statistics cannot give: the
/// domain XML, the disk sizes of a guest that is off, and addresses for running guests that can have any
/// (DHCP leases of libvirt networks; the agent where one is connected). The per-guest calls run a few at a time.
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
        var stats = connection.GetStats(guests.Select(g => g.Handle).ToList(), Groups);

        var states = new Dictionary<Guid, (GuestState State, int Reason)>();
        foreach (var guest in guests)
            states[guest.Uuid] = stats.TryGetValue(guest.Uuid, out var s) && s.State is { } state
                ? (GuestStateReasons.StateOf(state), s.Reason ?? 0)
                : connection.GetState(guest.Handle); // a driver without bulk statistics, or a guest NOWAIT skipped
        var selected = keep is null ? guests : guests.Where(g => keep(states[g.Uuid].State)).ToList();
        if (selected.Count == 0) return [];

        HashSet<Guid> autostart = connection.ListUuids(ListAutostart);
        HashSet<Guid> managedSave = connection.ListUuids(ListManagedSave);
        HashSet<Guid> transient = connection.ListUuids(ListTransient);
        string host = connection.HostName;

        var running = selected.Where(g => GuestStateReasons.IsActive(states[g.Uuid].State)).Select(g => g.Uuid).ToHashSet();
        var started = LibvirtUri.IsLocal(connection.Uri) ? GuestProcesses.StartTimes(running) : [];
        DateTime now = DateTime.UtcNow;

        var details = new GuestDetails[selected.Count];
        using (var volumes = new PoolVolumes(connection))
        {
            void Fetch(int i)
            {
                var guest = selected[i];
                bool active = running.Contains(guest.Uuid);
                stats.TryGetValue(guest.Uuid, out DomainStats? stat);
                DomainXml xml = ReadXml(connection, guest);
                details[i] = new GuestDetails(xml, active ? Addresses(connection, guest, xml) : [],
                    xml.Disks.Select(d => Disk(connection, volumes, guest, d, stat, active)).ToArray());
            }
            if (selected.Count < ParallelFrom)
            {
                for (int i = 0; i < selected.Count; i++) Fetch(i);
            }
            else
            {
                try
                {
                    Parallel.For(0, selected.Count, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, Fetch);
                }
                catch (AggregateException failed) when (failed.InnerExceptions.FirstOrDefault(e => e is KvmHostException) is { } first)
                {
                    ExceptionDispatchInfo.Capture(first).Throw();
                }
            }
        }
        connection.FlushLog();

        var result = new List<KvmGuest>(selected.Count);
        for (int i = 0; i < selected.Count; i++)
        {
            var guest = selected[i];
            var (state, reason) = states[guest.Uuid];
            stats.TryGetValue(guest.Uuid, out DomainStats? stat);
            var (xml, addresses, disks) = details[i];
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
                Disks = disks,
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

    private static KvmGuestDisk Disk(LibvirtConnection connection, PoolVolumes volumes, GuestEntry guest, DomainDisk disk, DomainStats? stats, bool active)
    {
        BlockStats? block = stats?.Blocks.FirstOrDefault(b => b.Name == disk.Target);
        // A running guest's statistics carry the sizes; for one that is off, libvirt reads the image when asked.
        (long Capacity, long Allocation)? sizes = block?.CapacityBytes is { } capacity ? (capacity, block.AllocationBytes ?? 0)
            : active || disk.Source is null ? null
            // libvirt resolves a pool volume to its image only when the guest starts: ask the pool
            : disk is { Type: "volume", Pool: { } pool, Volume: { } volume } ? volumes.Sizes(pool, volume)
            : disk.Type is "file" or "block" && disk.Target.Length > 0 ? connection.GetBlockSizes(guest.Handle, disk.Target)
            : null;
        return new KvmGuestDisk
        {
            GuestName = guest.Name,
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

    private sealed record GuestDetails(DomainXml Xml, Dictionary<string, List<string>> Addresses, KvmGuestDisk[] Disks);

    /// <summary>The volumes of each pool the guests use, listed once per pool (worker threads share it).</summary>
    private sealed class PoolVolumes(LibvirtConnection connection) : IDisposable
    {
        private readonly ConcurrentDictionary<string, Lazy<Dictionary<string, StorageVolumeHandle>>> _pools = new(StringComparer.Ordinal);

        public (long Capacity, long Allocation)? Sizes(string pool, string volume) =>
            _pools.GetOrAdd(pool, name => new Lazy<Dictionary<string, StorageVolumeHandle>>(() => connection.ListVolumes(name))).Value
                .TryGetValue(volume, out var handle) ? connection.GetVolumeSizes(handle, $"{pool}/{volume}") : null;

        public void Dispose()
        {
            foreach (var pool in _pools.Values.Where(p => p.IsValueCreated))
                foreach (var handle in pool.Value.Values) handle.Dispose();
        }
    }
}
