using System.Net;
using System.Globalization;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>A file the plan writes, with what is on disk now.</summary>
public sealed record FilePlan(PlannedFile File, string? Current)
{
    public bool Changes => File.Content is null ? Current is not null : Current != File.Content;
}

/// <summary>What the running system must become; null on an offline root.</summary>
public sealed record LivePlan
{
    public required bool Needed { get; init; }
    public required LiveNetworkState Before { get; init; }
    public required IReadOnlyList<IpCidr> BridgeAddresses { get; init; }
    /// <summary>Addresses the NIC has with noprefixroute: they keep it on the bridge (their prefix route is among BridgeRoutes).</summary>
    public IReadOnlySet<IpCidr> NoPrefixRoute { get; init; } = new HashSet<IpCidr>();
    public required IReadOnlyList<BridgeRoute> BridgeRoutes { get; init; }
    /// <summary>Policy rules that name the NIC (iif/oif): they name the bridge afterwards.</summary>
    public IReadOnlyList<LiveRule> Rules { get; init; } = [];
    /// <summary>The NIC's IPv6 sysctls (disable_ipv6, accept_ra, ...) where the new bridge would start with other values.</summary>
    public IReadOnlyDictionary<string, string> Ipv6Settings { get; init; } = new Dictionary<string, string>();
    /// <summary>What a probe must answer: the NIC's gateways now and -Probe addresses.</summary>
    public required IReadOnlyList<IPAddress> ProbeTargets { get; init; }
}

public sealed record BridgePlan
{
    public required BridgeSettings Settings { get; init; }
    public required IBridgeConfig Config { get; init; }
    public required IReadOnlyList<FilePlan> Files { get; init; }
    public LivePlan? Live { get; init; }
    /// <summary>Why this change could cut the admin off (default route, SSH session); empty when it cannot.</summary>
    public required IReadOnlyList<string> Risks { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }
    /// <summary>What stops a real run (not root, NetworkManager not running); -WhatIf lists them instead.</summary>
    public IReadOnlyList<KvmHostException> Blockers { get; init; } = [];
    /// <summary>Every setting of the NIC's profile and where it went (and the effective values written explicitly).</summary>
    public IReadOnlyList<CarriedSetting> Carried { get; init; } = [];
    /// <summary>The port's profile for NetworkManager (activated by hand when autoconnect-ports does not bring it).</summary>
    public string? PortUuid { get; init; }
    public bool Changes => Files.Any(f => f.Changes) || (Live?.Needed ?? false);

    /// <summary>Whether another plan (made again under the lock) would do exactly the same.</summary>
    public bool SameChangesAs(BridgePlan other) =>
        Files.Select(f => (f.File.Path, f.File.Content, f.Current)).SequenceEqual(other.Files.Select(f => (f.File.Path, f.File.Content, f.Current)))
        && (Live?.Needed ?? false) == (other.Live?.Needed ?? false)
        && (Live?.BridgeAddresses ?? []).SequenceEqual(other.Live?.BridgeAddresses ?? [])
        && (Live?.BridgeRoutes ?? []).SequenceEqual(other.Live?.BridgeRoutes ?? []);
}

/// <summary>
/// Turns a request into a plan: resolves "the NIC's current settings" (live addresses and routes, or
/// the NIC's profile offline), refuses conflicts, renders the files and works out the live change.
/// Reads only; nothing here writes or changes the system.
/// </summary>
public static class BridgePlanner
{
    /// <summary>
    /// Reads everything a plan needs (the running network on the live root, the backend's files) and plans.
    /// Reads only, takes no lock: a preview and a rejected call leave no trace. What would stop a real run is
    /// in the plan's Blockers.
    /// </summary>
    public static BridgePlan Prepare(BridgeRequest request, HostSystem host, BridgeBackend backend, ReleaseProfile? release, string? sshConnection)
    {
        var blockers = new List<KvmHostException>();
        if (Privileges.MissingRootFor(host, $"Bridging {request.Interface} into {request.Name}") is { } notRoot) blockers.Add(notRoot);
        LiveNetworkState? live = host.Running?.ReadNetwork();
        var config = BridgeConfigs.Open(backend, host, release, blockers);
        var plan = Plan(request, host.Root, config, live, sshConnection) with { Blockers = blockers };
        // The rules as they are before the change, for putting them back: read now, not at a rollback.
        if (plan.Live?.Needed == true) _ = live!.Rules;
        return plan;
    }

    public static BridgePlan Plan(BridgeRequest request, HostRoot root, IBridgeConfig config, LiveNetworkState? live, string? sshConnection)
    {
        string name = request.Name, nic = request.Interface;
        var notes = new List<string>();
        var bridges = config.FindBridges();
        var mine = bridges.FirstOrDefault(b => b.Name == name);
        var profiles = config.FindNicProfiles(nic);

        if (bridges.FirstOrDefault(b => b.Name != name && b.Ports.Contains(nic)) is { } other)
            throw Conflict($"{nic} is already a port of the bridge {other.Name} ({other.Path}).", nic, $"Remove-HostBridge {other.Name} first, or bridge another NIC.");
        if (mine is not null && mine.Ports.Any(p => p != nic))
            throw Conflict($"A bridge {name} already exists in {mine.Path} with the port(s) {string.Join(", ", mine.Ports)}.", name,
                "Pick another bridge name, or Remove-HostBridge it first.");

        LiveLink? nicLink = null, bridgeLink = null;
        if (live is not null)
        {
            nicLink = live.Link(nic) ?? throw new KvmHostException(ErrorIds.InterfaceNotFound, FailureKind.ObjectNotFound,
                $"There is no network interface '{nic}' on this host. Nothing was changed.", nic,
                $"Pick one of: {string.Join(", ", live.Links.Where(l => !l.IsLoopback && !l.IsBridge).Select(l => l.Name))}.");
            if (nicLink.IsBridge || nicLink.IsLoopback)
                throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.InvalidArgument,
                    $"{nic} is a {(nicLink.IsBridge ? "bridge" : "loopback interface")}; only a NIC can become a bridge port.", nic,
                    "Give the Ethernet NIC that carries the host's traffic.");
            if (nicLink.Master is { } master && master != name)
                throw Conflict($"{nic} is already enslaved to {master}.", nic, $"Detach it first (Remove-HostBridge {master}), or bridge another NIC.");
            bridgeLink = live.Link(name);
            if (bridgeLink is { IsBridge: false })
                throw Conflict($"An interface named {name} already exists and is not a bridge ({bridgeLink.Kind ?? "device"}).", name, "Pick another bridge name.");
            if (bridgeLink is not null && live.PortsOf(name).Any(p => p.Name != nic))
                throw Conflict($"The running bridge {name} already has the port(s) {string.Join(", ", live.PortsOf(name).Select(p => p.Name))}.", name,
                    "Pick another bridge name, or Remove-HostBridge it first.");
        }

        bool alreadyBridged = nicLink?.Master == name || (live is null && mine is not null && mine.Ports.Contains(nic));
        var settings = Resolve(request, root, config, mine, profiles, live, nicLink, bridgeLink, alreadyBridged, notes);

        var rendering = config.Render(settings);
        notes.AddRange(rendering.Notes);
        var files = rendering.Files.Select(f => new FilePlan(f, root.TryReadText(f.Path))).ToList();
        if (files.FirstOrDefault(f => f.File.Purpose == "bridge") is { Current: not null, Changes: true } clash)
            throw Conflict($"{clash.File.Path} already defines a bridge {name} with other settings.", clash.File.Path,
                "Compare it with -WhatIf output; Remove-HostBridge it first, or ask for the same settings.");

        LivePlan? livePlan = null;
        var risks = new List<string>();
        if (live is not null && nicLink is not null)
        {
            livePlan = PlanLive(request, settings, config.Backend, live, nicLink, bridgeLink, notes);
            if (livePlan.Needed)
            {
                if (live.RoutesVia(nic).Any(r => r.IsDefault))
                    risks.Add($"{nic} carries the default route: a mistake cuts this host off its network.");
                if (SshServerAddress(sshConnection) is { } server && nicLink.Addresses.Any(a => a.Cidr.Address.Equals(server)))
                    risks.Add($"This session's SSH connection arrives on {nic} ({server}).");
            }
        }
        return new BridgePlan
        {
            Settings = settings, Config = config, Files = files, Live = livePlan, Risks = risks, Notes = notes,
            Carried = rendering.Carried, PortUuid = rendering.PortUuid,
        };
    }

    /// <summary>
    /// The running side. NetworkManager applies the bridge's profile itself; the guard then waits for the
    /// addresses that profile gives (static ones, and the DHCP lease the NIC has). With iproute2 the NIC's
    /// running layer 3 identity moves as it is: every global address (with its flags), every route it owns in
    /// every table, the policy rules that name it, and its IPv6 sysctls.
    /// </summary>
    private static LivePlan PlanLive(BridgeRequest request, BridgeSettings settings, BridgeBackend backend, LiveNetworkState live,
        LiveLink nicLink, LiveLink? bridgeLink, List<string> notes)
    {
        string nic = request.Interface, name = request.Name;
        var ip = settings.Ip;
        bool asItRuns = request.Source == AddressSource.FromInterface && nicLink.Master != name;
        var liveGlobal = nicLink.Addresses.Where(a => a.IsGlobal).ToList();
        List<IpCidr> bridgeAddresses;
        if (asItRuns && backend == BridgeBackend.NetworkScripts)
            bridgeAddresses = liveGlobal.Select(a => a.Cidr).ToList();
        else if (ip.Dhcp)
        {
            // The lease moves with the NIC's MAC; SLAAC addresses may legitimately differ, so only what is asked is awaited.
            bridgeAddresses = ip.Addresses.Concat(nicLink.Addresses.Concat(bridgeLink?.Addresses ?? []).Where(a => a.IsGlobal && (!a.Cidr.IsIPv6 || !a.Dynamic))
                .Select(a => a.Cidr)).Distinct().ToList();
            notes.Add("The running addresses move onto the bridge as they are; DHCP takes over when the network starts the bridge's profile.");
        }
        else bridgeAddresses = ip.Addresses.ToList();

        var routes = new List<BridgeRoute>();
        IReadOnlyList<LiveRule> rules = [];
        var ipv6Settings = new Dictionary<string, string>();
        if (asItRuns && backend == BridgeBackend.NetworkScripts)
        {
            routes.AddRange(live.OwnRoutesVia(nic).Select(r => new BridgeRoute(r.Destination, r.Gateway, r.Metric) { Table = r.Table, IPv6 = r.IPv6 }));
            rules = live.RulesVia(nic).ToList();
            // A new bridge starts with net.ipv6.conf.default.*: write what the NIC has where that differs.
            foreach (var (key, value) in nicLink.Ipv6Settings)
                if (key != "mtu" && (bridgeLink?.Ipv6Settings.GetValueOrDefault(key) ?? live.DefaultIpv6Settings.GetValueOrDefault(key)) != value) ipv6Settings[key] = value;
            if (nicLink.Ipv6Settings.GetValueOrDefault("mtu") is { } mtu6 && mtu6 != nicLink.Mtu.ToString(CultureInfo.InvariantCulture)
                && nicLink.Ipv6Settings.GetValueOrDefault("disable_ipv6") != "1")
                ipv6Settings["mtu"] = mtu6;
        }
        else
        {
            if (ip.Gateway is not null) routes.Add(new BridgeRoute("default", ip.Gateway.ToString(), MetricOfDefault(live, nic, false)));
            if (ip.Gateway6 is not null) routes.Add(new BridgeRoute("default", ip.Gateway6.ToString(), MetricOfDefault(live, nic, true)));
            if (ip.Dhcp)
                routes.AddRange(live.RoutesVia(nic).Where(r => r.IsDefault && r.Gateway is not null).Select(r => new BridgeRoute("default", r.Gateway, r.Metric)));
            routes.AddRange(ip.Routes);
        }

        var probes = live.RoutesVia(nic).Concat(bridgeLink is null ? [] : live.RoutesVia(name))
            .Where(r => r.IsDefault && r.Gateway is not null && r.Table is null).Select(r => IPAddress.Parse(r.Gateway!))
            .Concat(request.Probes).Distinct().ToList();

        bool inPlace = bridgeLink is not null && nicLink.Master == name
            && bridgeAddresses.All(a => bridgeLink.Addresses.Any(b => b.Cidr.Equals(a)));
        return new LivePlan
        {
            Needed = !inPlace,
            Before = live,
            BridgeAddresses = bridgeAddresses,
            NoPrefixRoute = liveGlobal.Where(a => a.NoPrefixRoute).Select(a => a.Cidr).ToHashSet(),
            BridgeRoutes = routes.Distinct().ToList(),
            Rules = rules,
            Ipv6Settings = ipv6Settings,
            ProbeTargets = probes,
        };
    }

    private static BridgeSettings Resolve(BridgeRequest request, HostRoot root, IBridgeConfig config, ConfiguredBridge? mine,
        IReadOnlyList<NicProfile> profiles, LiveNetworkState? live, LiveLink? nicLink, LiveLink? bridgeLink, bool alreadyBridged, List<string> notes)
    {
        string nic = request.Interface;
        // The NIC's own profiles: not a port of something, not NetworkManager's in-memory ones for an externally configured NIC.
        var own = profiles.Where(p => p.Controller is null && !p.Path.StartsWith("/run/", StringComparison.Ordinal)).ToList();
        var saved = config.FindSavedProfile(request.Name, nic);
        NicProfile? source = saved ?? own.FirstOrDefault(p => p.Ip.HasLayer3) ?? own.FirstOrDefault();
        if (saved is null && own.Count > 1) notes.Add($"{nic} has {own.Count} profiles ({string.Join(", ", own.Select(p => p.Path))}); the bridge carries {source!.Path}.");
        ConfiguredIp ip;
        ConfiguredIp? addressing = null;
        string? keepBridgeFile = null;
        switch (request.Source)
        {
            case AddressSource.Static:
                ip = new ConfiguredIp { Addresses = request.Addresses, Gateway = request.Gateway, Gateway6 = request.Gateway6, DnsServers = request.DnsServers };
                addressing = ip;
                break;
            case AddressSource.Dhcp:
                ip = new ConfiguredIp { Dhcp = true, Ipv6Auto = true, DnsServers = request.DnsServers };
                addressing = ip;
                break;
            default:
                if (mine is not null && (alreadyBridged || live is null || bridgeLink is not null))
                {
                    ip = mine.Ip;
                    notes.Add($"Settings taken from the existing bridge profile {mine.Path}.");
                    // Nothing new asked of a bridge that has this NIC already: its file stays exactly as it is (edits included).
                    if (mine.Ports.Contains(nic) && request.Stp is null && request.ForwardDelay is null && request.Mtu is null) keepBridgeFile = mine.Path;
                }
                else if (alreadyBridged && bridgeLink is not null && live is not null)
                {
                    ip = FromLive(bridgeLink, live, source, root);
                    source = saved;
                    notes.Add($"Settings taken from the running bridge {request.Name}.");
                }
                else if (source is not null && (source.Ip.HasLayer3 || source.Ip.Ipv6Disabled || live is null || nicLink is null || !nicLink.Addresses.Any(a => a.IsGlobal)))
                {
                    ip = source.Ip;
                    notes.Add($"Settings carried from {source.Path}{(source.FromSavedOriginal ? " (as it was before the NIC was bridged)" : string.Empty)}.");
                }
                else if (nicLink is not null && live is not null)
                {
                    ip = FromLive(nicLink, live, source, root);
                    if (!ip.HasIpSettings)
                        throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.InvalidArgument,
                            $"{nic} has no global IP address to move onto the bridge. Nothing was changed.", nic,
                            "Give -IPAddress (with -Gateway and -DnsServer) or -Dhcp.");
                    if (source is not null)
                        notes.Add($"{source.Path} configures no address while {nic} runs with some: the running addresses are carried.");
                    source = null;
                    notes.Add($"Addresses, routes and MAC taken from the running {nic}{(ip.DnsServers.Count > 0 ? "; DNS servers from its profile or resolv.conf" : string.Empty)}.");
                }
                else
                {
                    throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.ObjectNotFound,
                        $"{nic} has no IP configuration under {root.Path} to move onto the bridge. Nothing was changed.", nic,
                        "Give -IPAddress (with -Gateway and -DnsServer) or -Dhcp.");
                }
                break;
        }

        string? mac = nicLink?.MacAddress ?? mine?.Ip.MacAddress ?? source?.Ip.MacAddress;
        int? mtu = request.Mtu ?? mine?.Ip.Mtu ?? (nicLink is { Mtu: > 0 and not 1500 } ? nicLink.Mtu : (int?)null) ?? source?.Ip.Mtu;
        int? delay = request.ForwardDelay ?? mine?.ForwardDelay;
        if (config.Backend == BridgeBackend.NetworkManager && delay is < 2)
            throw new KvmHostException(ErrorIds.InvalidBridgeOption, FailureKind.InvalidArgument,
                $"NetworkManager accepts a forward delay of 2 to 30 seconds, not {delay}. Nothing was changed.", "ForwardDelay",
                "Leave -ForwardDelay out (with STP off it does not matter), or give 2-30.");
        string metricDevice = alreadyBridged && bridgeLink is not null ? request.Name : nic;
        return new BridgeSettings
        {
            Name = request.Name,
            Port = nic,
            Ip = ip with { MacAddress = mac?.ToUpperInvariant(), Mtu = mtu },
            Stp = request.Stp ?? mine?.Stp ?? false,
            ForwardDelay = delay,
            Source = source,
            KeepBridgeFile = keepBridgeFile,
            Context = new CarryContext
            {
                Bridge = request.Name,
                Nic = nic,
                LiveMetric4 = live is null ? null : MetricOfRoutes(live, metricDevice, false),
                LiveMetric6 = live is null ? null : MetricOfRoutes(live, metricDevice, true),
                PermanentMac = nicLink?.PermanentMacAddress ?? nicLink?.MacAddress ?? source?.Ip.MacAddress,
                Addressing = addressing,
            },
        };
    }

    /// <summary>
    /// The metric the link's routes run with: its default route's, else the prefix route its configuration added
    /// (NetworkManager's, noprefixroute). An IPv4 route without a metric has metric 0; null: no such route.
    /// </summary>
    internal static int? MetricOfRoutes(LiveNetworkState live, string device, bool v6)
    {
        var route = live.RoutesVia(device).FirstOrDefault(r => r.IsDefault && r.IPv6 == v6 && r.Table is null)
            ?? live.OwnRoutesVia(device).FirstOrDefault(r => r.Protocol is "kernel" && r.IPv6 == v6 && r.Table is null);
        return route is null ? null : route.Metric ?? (v6 ? 1024 : 0);
    }

    /// <summary>The running addresses and routes of a link, DNS from its profile or resolv.conf.</summary>
    private static ConfiguredIp FromLive(LiveLink link, LiveNetworkState live, NicProfile? profile, HostRoot root)
    {
        var global = link.Addresses.Where(a => a.IsGlobal).ToList();
        bool dhcp4 = global.Any(a => !a.Cidr.IsIPv6 && a.Dynamic);
        bool auto6 = global.Any(a => a.Cidr.IsIPv6 && a.Dynamic);
        var routes = live.RoutesVia(link.Name).ToList();
        var dns = profile?.Ip.DnsServers is { Count: > 0 } fromProfile ? fromProfile : ReadResolvConf(root);
        return new ConfiguredIp
        {
            Dhcp = dhcp4,
            Ipv6Auto = auto6 || (profile?.Ip.Ipv6Auto ?? false),
            Ipv6Disabled = link.Ipv6Settings.GetValueOrDefault("disable_ipv6") == "1",
            Addresses = global.Where(a => !a.Dynamic).Select(a => a.Cidr).ToList(),
            Gateway = dhcp4 ? null : routes.Where(r => r.IsDefault && !r.IPv6 && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)).FirstOrDefault(),
            Gateway6 = auto6 ? null : routes.Where(r => r.IsDefault && r.IPv6 && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)).FirstOrDefault(),
            DnsServers = dhcp4 ? [] : dns,
            Routes = routes.Where(r => !r.IsDefault && !r.FollowsAddress && r.Protocol is not ("ra" or "dhcp") && r.Table is null)
                .Select(r => new BridgeRoute(r.Destination, r.Gateway, r.Metric)).ToList(),
            MacAddress = link.MacAddress,
        };
    }

    private static IReadOnlyList<IPAddress> ReadResolvConf(HostRoot root)
    {
        string? text = null;
        try { text = root.TryReadText("/etc/resolv.conf", 256 * 1024); } catch (KvmHostException) { }
        if (text is null) return [];
        return text.Split('\n').Select(l => l.Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            .Where(w => w.Length >= 2 && w[0] == "nameserver").Select(w => BridgeConfigs.TryAddress(w[1])).OfType<IPAddress>()
            // systemd-resolved's stub and loopback resolvers are this host, not the network's servers.
            .Where(a => !IPAddress.IsLoopback(a)).Distinct().ToList();
    }

    private static int? MetricOfDefault(LiveNetworkState live, string nic, bool v6) =>
        live.RoutesVia(nic).FirstOrDefault(r => r.IsDefault && r.IPv6 == v6)?.Metric;

    internal static IPAddress? SshServerAddress(string? sshConnection)
    {
        // "client_ip client_port server_ip server_port"
        var parts = (sshConnection ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 4 && IPAddress.TryParse(parts[2].Split('%')[0], out var server) ? server : null;
    }

    private static KvmHostException Conflict(string message, object target, string hint) =>
        new(ErrorIds.BridgeConflict, FailureKind.ResourceBusy, message + " Nothing was changed.", target, hint);
}
