using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>
/// Builds KvmGuest objects in bulk: one statistics call for all selected guests (state, CPU time, memory,
/// vCPUs, disk sizes), three filtered list calls for autostart, managed save and persistence (instead of
/// three calls per guest), then per guest only what statistics cannot give: the domain XML, and addresses
/// for running guests that can have any (DHCP leases of libvirt networks; the agent where one is connected).
/// </summary>
public static class GuestReader
{
    private const uint Groups = StatsState | StatsCpuTotal | StatsBalloon | StatsVcpu | StatsBlock;

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

        var result = new List<KvmGuest>(selected.Count);
        foreach (var guest in selected)
        {
            var (state, reason) = states[guest.Uuid];
            stats.TryGetValue(guest.Uuid, out DomainStats? stat);
            DomainXml xml = ReadXml(connection, guest);
            bool active = running.Contains(guest.Uuid);
            var addresses = active ? Addresses(connection, guest, xml) : [];
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
                Disks = xml.Disks.Select(d => Disk(guest.Name, d, stat)).ToArray(),
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
            throw new Platform.KvmHostException(Platform.ErrorIds.LibvirtCallFailed, Platform.FailureKind.InvalidData,
                $"libvirt returned a domain XML for guest '{guest.Name}' that cannot be read: {e.Message}", guest.Name);
        }
    }

    private static KvmGuestDisk Disk(string guestName, DomainDisk disk, DomainStats? stats)
    {
        BlockStats? block = stats?.Blocks.FirstOrDefault(b => b.Name == disk.Target);
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
            CapacityBytes = block?.CapacityBytes,
            AllocationBytes = block?.AllocationBytes,
        };
    }
}
