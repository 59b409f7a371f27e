using System.Net;
using System.Net.Sockets;
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
    public required IReadOnlyList<BridgeRoute> BridgeRoutes { get; init; }
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
    public static BridgePlan Prepare(BridgeRequest request, HostRoot root, BridgeBackend backend, ReleaseProfile? release,
        ICommandRunner runner, string? sshConnection, CancellationToken cancellationToken)
    {
        var blockers = new List<KvmHostException>();
        if (Privileges.MissingRootFor(root, $"Bridging {request.Interface} into {request.Name}") is { } notRoot) blockers.Add(notRoot);
        LiveNetworkState? live = root.IsLive ? new LiveNetworkReader(runner).Read(cancellationToken) : null;
        var config = BridgeConfigs.Open(backend, root, release, runner, cancellationToken, blockers);
        return Plan(request, root, config, live, sshConnection) with { Blockers = blockers };
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
        var settings = Resolve(request, root, config.Backend, mine, profiles, live, nicLink, bridgeLink, alreadyBridged, notes);

        var files = config.Render(settings).Select(f => new FilePlan(f, root.TryReadText(f.Path))).ToList();
        if (files.FirstOrDefault(f => f.File.Purpose == "bridge") is { Current: not null, Changes: true } clash)
            throw Conflict($"{clash.File.Path} already defines a bridge {name} with other settings.", clash.File.Path,
                "Compare it with -WhatIf output; Remove-HostBridge it first, or ask for the same settings.");

        LivePlan? livePlan = null;
        var risks = new List<string>();
        if (live is not null && nicLink is not null)
        {
            var ip = settings.Ip;
            var bridgeAddresses = ip.Dhcp
                ? nicLink.Addresses.Concat(bridgeLink?.Addresses ?? []).Where(a => a.IsGlobal).Select(a => a.Cidr).Distinct().ToList()
                : ip.Addresses.ToList();
            if (ip.Dhcp)
                notes.Add("The running addresses move onto the bridge as they are; DHCP takes over when the network starts the bridge's profile.");
            var routes = new List<BridgeRoute>();
            if (ip.Gateway is not null) routes.Add(new BridgeRoute("default", ip.Gateway.ToString(), MetricOfDefault(live, nic, false)));
            if (ip.Gateway6 is not null) routes.Add(new BridgeRoute("default", ip.Gateway6.ToString(), MetricOfDefault(live, nic, true)));
            if (ip.Dhcp)
                routes.AddRange(live.RoutesVia(nic).Where(r => r.IsDefault && r.Gateway is not null).Select(r => new BridgeRoute("default", r.Gateway, r.Metric)));
            routes.AddRange(ip.Routes);

            var probes = live.RoutesVia(nic).Concat(bridgeLink is null ? [] : live.RoutesVia(name))
                .Where(r => r.IsDefault && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!))
                .Concat(request.Probes).Distinct().ToList();

            bool inPlace = bridgeLink is not null && nicLink.Master == name
                && bridgeAddresses.All(a => bridgeLink.Addresses.Any(b => b.Cidr.Equals(a)));
            livePlan = new LivePlan
            {
                Needed = !inPlace,
                Before = live,
                BridgeAddresses = bridgeAddresses,
                BridgeRoutes = routes.Distinct().ToList(),
                ProbeTargets = probes,
            };

            if (!inPlace)
            {
                if (live.RoutesVia(nic).Any(r => r.IsDefault))
                    risks.Add($"{nic} carries the default route: a mistake cuts this host off its network.");
                if (SshServerAddress(sshConnection) is { } server && nicLink.Addresses.Any(a => a.Cidr.Address.Equals(server)))
                    risks.Add($"This session's SSH connection arrives on {nic} ({server}).");
            }
        }
        return new BridgePlan { Settings = settings, Config = config, Files = files, Live = livePlan, Risks = risks, Notes = notes };
    }

    private static BridgeSettings Resolve(BridgeRequest request, HostRoot root, BridgeBackend backend, ConfiguredBridge? mine,
        IReadOnlyList<NicProfile> profiles, LiveNetworkState? live, LiveLink? nicLink, LiveLink? bridgeLink, bool alreadyBridged, List<string> notes)
    {
        string nic = request.Interface;
        var ownProfile = profiles.FirstOrDefault(p => p.Controller is null && p.Ip.HasIpSettings) ?? profiles.FirstOrDefault(p => p.Controller is null);
        ConfiguredIp ip;
        switch (request.Source)
        {
            case AddressSource.Static:
                ip = new ConfiguredIp { Addresses = request.Addresses, Gateway = request.Gateway, Gateway6 = request.Gateway6, DnsServers = request.DnsServers };
                break;
            case AddressSource.Dhcp:
                ip = new ConfiguredIp { Dhcp = true, Ipv6Auto = true, DnsServers = request.DnsServers };
                break;
            default:
                if (mine is not null && (alreadyBridged || live is null || bridgeLink is not null))
                {
                    ip = mine.Ip;
                    notes.Add($"Settings taken from the existing bridge profile {mine.Path}.");
                }
                else if (alreadyBridged && bridgeLink is not null && live is not null)
                {
                    ip = FromLive(bridgeLink, live, ownProfile, root);
                    notes.Add($"Settings taken from the running bridge {request.Name}.");
                }
                else if (nicLink is not null && live is not null)
                {
                    ip = FromLive(nicLink, live, ownProfile, root);
                    if (!ip.HasIpSettings)
                        throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.InvalidArgument,
                            $"{nic} has no global IP address to move onto the bridge. Nothing was changed.", nic,
                            "Give -IPAddress (with -Gateway and -DnsServer) or -Dhcp.");
                    notes.Add($"Addresses, routes and MAC taken from the running {nic}{(ip.DnsServers.Count > 0 ? "; DNS servers from its profile or resolv.conf" : string.Empty)}.");
                }
                else if (ownProfile is { Ip.HasIpSettings: true })
                {
                    ip = ownProfile.Ip;
                    notes.Add($"Settings taken from {ownProfile.Path}.");
                }
                else
                {
                    throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.ObjectNotFound,
                        $"{nic} has no IP configuration under {root.Path} to move onto the bridge. Nothing was changed.", nic,
                        "Give -IPAddress (with -Gateway and -DnsServer) or -Dhcp.");
                }
                break;
        }

        string? mac = nicLink?.MacAddress ?? mine?.Ip.MacAddress ?? ownProfile?.Ip.MacAddress;
        int? mtu = request.Mtu ?? mine?.Ip.Mtu ?? (nicLink is { Mtu: > 0 and not 1500 } ? nicLink.Mtu : (int?)null) ?? ownProfile?.Ip.Mtu;
        int? delay = request.ForwardDelay ?? mine?.ForwardDelay;
        if (backend == BridgeBackend.NetworkManager && delay is < 2)
            throw new KvmHostException(ErrorIds.InvalidBridgeOption, FailureKind.InvalidArgument,
                $"NetworkManager accepts a forward delay of 2 to 30 seconds, not {delay}. Nothing was changed.", "ForwardDelay",
                "Leave -ForwardDelay out (with STP off it does not matter), or give 2-30.");
        return new BridgeSettings
        {
            Name = request.Name,
            Port = nic,
            Ip = ip with { MacAddress = mac?.ToUpperInvariant(), Mtu = mtu },
            Stp = request.Stp ?? mine?.Stp ?? false,
            ForwardDelay = delay,
        };
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
            Addresses = global.Where(a => !a.Dynamic).Select(a => a.Cidr).ToList(),
            Gateway = dhcp4 ? null : routes.Where(r => r.IsDefault && !r.IPv6 && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)).FirstOrDefault(),
            Gateway6 = auto6 ? null : routes.Where(r => r.IsDefault && r.IPv6 && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)).FirstOrDefault(),
            DnsServers = dhcp4 ? [] : dns,
            Routes = routes.Where(r => !r.IsDefault && !r.FollowsAddress && r.Protocol is not ("ra" or "dhcp"))
                .Select(r => new BridgeRoute(r.Destination, r.Gateway, r.Metric)).ToList(),
            MacAddress = link.MacAddress,
        };
    }

    private static IReadOnlyList<IPAddress> ReadResolvConf(HostRoot root)
    {
        string? text = null;
        try { text = root.TryReadText("/etc/resolv.conf", 256 * 1024); } catch (KvmHostException) { }
        if (text is null) return [];
        return text.Split('\n').Select(l => l.Trim().Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
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
