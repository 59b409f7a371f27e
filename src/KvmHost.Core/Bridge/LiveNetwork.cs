using System.Net;
using System.Text.Json;
using KvmHost.Core.Platform;
using KvmHost.Core.Sysctl;

namespace KvmHost.Core.Bridge;

/// <summary>An address as "ip -j address" reports it; NoPrefixRoute: the kernel made no prefix route for it (NetworkManager adds its own).</summary>
public sealed record LiveAddress(IpCidr Cidr, string Scope, bool Dynamic, bool NoPrefixRoute = false)
{
    public bool IsGlobal => Scope == "global";
}

public sealed record LiveLink(string Name, string? Kind, string? MacAddress, int Mtu, bool Up, string? Master, IReadOnlyList<LiveAddress> Addresses)
{
    public bool IsBridge => Kind == "bridge";
    public bool IsLoopback => Name == "lo";
    /// <summary>The hardware's own MAC when another one is set (ip's "permaddr"), else null.</summary>
    public string? PermanentMacAddress { get; init; }
    /// <summary>Per-interface IPv6 sysctls (net.ipv6.conf.NAME.*) that shape the link's IPv6 identity; empty when unread.</summary>
    public IReadOnlyDictionary<string, string> Ipv6Settings { get; init; } = new Dictionary<string, string>();
}

/// <summary>A route as "ip -j route" reports it; Protocol "kernel" routes come and go with their address.</summary>
public sealed record LiveRoute(bool IPv6, string Destination, string? Gateway, string? Device, string? Protocol, int? Metric, string? Scope, string? PreferredSource)
{
    /// <summary>The routing table; null is the main table.</summary>
    public string? Table { get; init; }
    public bool IsDefault => Destination == "default";
    public bool FollowsAddress => Protocol is "kernel" || (IPv6 && Destination.StartsWith("fe80::", StringComparison.OrdinalIgnoreCase)) || Destination.StartsWith("ff00::", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A policy routing rule as "ip rule show" prints it: its priority and the selector and action after it.</summary>
public sealed record LiveRule(bool IPv6, int Priority, string Spec)
{
    public IReadOnlyList<string> Words => Spec.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>True when the rule selects packets by this interface ("iif NIC" or "oif NIC").</summary>
    public bool Names(string device)
    {
        var words = Words;
        for (int i = 0; i + 1 < words.Count; i++)
            if (words[i] is "iif" or "oif" && words[i + 1] == device) return true;
        return false;
    }

    /// <summary>The same rule for another interface.</summary>
    public string SpecFor(string from, string to) =>
        string.Join(' ', Words.Select((w, i) => i > 0 && Words[i - 1] is "iif" or "oif" && w == from ? to : w));
}

/// <summary>Links, addresses and routes of the network namespace this process runs in.</summary>
public sealed record LiveNetworkState(IReadOnlyList<LiveLink> Links, IReadOnlyList<LiveRoute> Routes)
{
    private Lazy<IReadOnlyList<LiveRule>> _rules = new(() => []);

    /// <summary>Policy routing rules; where <see cref="ReadRules"/> was given, read at the first use.</summary>
    public IReadOnlyList<LiveRule> Rules { get => _rules.Value; init => _rules = new(() => value); }

    /// <summary>
    /// Reads the rules when they are first needed: only moving a NIC with iproute2, or putting it back, needs them, so a
    /// run that changes nothing asks nothing. A plan that changes the running network reads them before it changes it.
    /// </summary>
    internal Func<IReadOnlyList<LiveRule>> ReadRules { init => _rules = new(value); }

    /// <summary>net.ipv6.conf.default.*: what a new link (a bridge) starts with.</summary>
    public IReadOnlyDictionary<string, string> DefaultIpv6Settings { get; init; } = new Dictionary<string, string>();

    public LiveLink? Link(string name) => Links.FirstOrDefault(l => l.Name == name);

    /// <summary>Routes through the device, in every routing table.</summary>
    public IEnumerable<LiveRoute> RoutesVia(string device) => Routes.Where(r => r.Device == device);

    public IEnumerable<LiveRule> RulesVia(string device) => Rules.Where(r => r.Names(device));

    public IEnumerable<LiveLink> PortsOf(string bridge) => Links.Where(l => l.Master == bridge);

    /// <summary>Routes through the device that belong to it rather than to an address: everything but what the kernel made itself.</summary>
    public IEnumerable<LiveRoute> OwnRoutesVia(string device)
    {
        // A "kernel" prefix route for an address the kernel was told not to make one for (noprefixroute)
        // was added by whoever configured the link (NetworkManager, with its metric): it moves like any other.
        var noPrefixRoute = (Link(device)?.Addresses ?? []).Where(a => a.IsGlobal && a.NoPrefixRoute)
            .Select(a => (a.Cidr.IsIPv6, PrefixOf(a.Cidr))).ToHashSet();
        return RoutesVia(device).Where(r => !r.FollowsAddress || (r.Protocol is "kernel" && noPrefixRoute.Contains((r.IPv6, r.Destination))));
    }

    /// <summary>"192.0.2.10/24" -> "192.0.2.0/24", as ip prints a prefix route.</summary>
    public static string PrefixOf(IpCidr cidr)
    {
        byte[] bytes = cidr.Address.GetAddressBytes();
        int bits = cidr.PrefixLength;
        for (int i = 0; i < bytes.Length; i++, bits -= 8)
            bytes[i] = bits >= 8 ? bytes[i] : bits <= 0 ? (byte)0 : (byte)(bytes[i] & (0xff << (8 - bits)));
        return $"{new IPAddress(bytes)}/{cidr.PrefixLength}";
    }

    /// <summary>Parses "ip -j rule show" / "ip -6 rule show" text output ("1000:\tfrom 10.0.0.0/8 lookup 100").</summary>
    public static IReadOnlyList<LiveRule> ParseRules(string text, bool ipv6)
    {
        var rules = new List<LiveRule>();
        foreach (string line in text.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0 || !int.TryParse(line[..colon], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int priority)) continue;
            string spec = string.Join(' ', line[(colon + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
            rules.Add(new LiveRule(ipv6, priority, spec));
        }
        return rules;
    }

    /// <summary>Parses "ip -j -d addr show", "ip -j route show" and "ip -j -6 route show".</summary>
    public static LiveNetworkState Parse(string addressJson, string route4Json, string route6Json)
    {
        var links = new List<LiveLink>();
        using (var document = JsonDocument.Parse(addressJson))
        {
            foreach (var link in document.RootElement.EnumerateArray())
            {
                string name = Str(link, "ifname") ?? string.Empty;
                string? kind = link.TryGetProperty("linkinfo", out var info) ? Str(info, "info_kind") : null;
                var flags = link.TryGetProperty("flags", out var f) ? f.EnumerateArray().Select(x => x.GetString()).ToHashSet() : [];
                var addresses = new List<LiveAddress>();
                if (link.TryGetProperty("addr_info", out var addrInfo))
                {
                    foreach (var a in addrInfo.EnumerateArray())
                    {
                        if (Str(a, "local") is not { } local || !IPAddress.TryParse(local, out var ip)) continue;
                        if (!a.TryGetProperty("prefixlen", out var prefix)) continue;
                        addresses.Add(new LiveAddress(new IpCidr(ip, prefix.GetInt32()), Str(a, "scope") ?? "global",
                            a.TryGetProperty("dynamic", out var dyn) && dyn.ValueKind == JsonValueKind.True,
                            a.TryGetProperty("noprefixroute", out var npr) && npr.ValueKind == JsonValueKind.True));
                    }
                }
                links.Add(new LiveLink(name, kind, Str(link, "address"), link.TryGetProperty("mtu", out var mtu) ? mtu.GetInt32() : 0,
                    flags.Contains("UP"), Str(link, "master"), addresses) { PermanentMacAddress = Str(link, "permaddr") });
            }
        }
        var routes = new List<LiveRoute>();
        foreach (var (json, v6) in new[] { (route4Json, false), (route6Json, true) })
        {
            using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
            foreach (var r in document.RootElement.EnumerateArray())
            {
                if (Str(r, "type") is { } type && type != "unicast") continue;
                string? table = Str(r, "table");
                if (table is "local") continue;
                routes.Add(new LiveRoute(v6, Str(r, "dst") ?? "default", Str(r, "gateway"), Str(r, "dev"), Str(r, "protocol"),
                    r.TryGetProperty("metric", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : null,
                    Str(r, "scope"), Str(r, "prefsrc")) { Table = table is null or "main" ? null : table });
            }
        }
        return new LiveNetworkState(links, routes);
    }

    private static string? Str(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>
/// Reads the live state of this network namespace: links, addresses and routes from rtnetlink in this process (no
/// program runs), or where netlink cannot be used (a seccomp profile without it) with iproute2's JSON output (stable
/// field names since iproute2 4.14); the IPv6 sysctls from /proc/sys; policy rules with "ip rule show" when first needed.
/// </summary>
internal sealed class LiveNetworkReader(ICommandRunner runner, KernelParameters kernel)
{
    /// <summary>The IPv6 sysctls of a link that carry its identity: whether IPv6 is on, router advertisements, SLAAC and its address form, the IPv6 MTU.</summary>
    public static readonly string[] Ipv6SettingNames = ["disable_ipv6", "accept_ra", "autoconf", "use_tempaddr", "addr_gen_mode", "mtu"];

    public LiveNetworkState Read(CancellationToken cancellationToken) =>
        Complete(TryNetlink() ?? ReadWithIp(cancellationToken), cancellationToken);

    /// <summary>The state where it can be read; null where neither rtnetlink nor iproute2 is there (a locked-down container).</summary>
    public LiveNetworkState? TryRead(CancellationToken cancellationToken) =>
        TryNetlink() is { } state ? Complete(state, cancellationToken)
        : runner.IsAvailable("ip") ? Complete(ReadWithIp(cancellationToken), cancellationToken)
        : null;

    /// <summary>The same state as iproute2 gives it, for the fallback and for the test that both readers agree.</summary>
    internal LiveNetworkState ReadWithIp(CancellationToken cancellationToken)
    {
        string addresses = Ip(cancellationToken, "-j", "-d", "address", "show");
        // Every table: a NIC's routes in a policy routing table move with it as much as the main ones.
        string routes4 = Ip(cancellationToken, "-j", "-4", "route", "show", "table", "all");
        string routes6 = Ip(cancellationToken, "-j", "-6", "route", "show", "table", "all");
        try
        {
            return LiveNetworkState.Parse(addresses, routes4, routes6);
        }
        catch (JsonException e)
        {
            throw new KvmHostException(ErrorIds.NetworkStateUnreadable, FailureKind.ReadError,
                $"Could not parse the output of 'ip -j': {e.Message}", "ip", "Install iproute2 4.14 or newer (JSON output).", e);
        }
    }

    /// <summary>Links, addresses and routes from rtnetlink; null where the kernel refuses the socket.</summary>
    internal static LiveNetworkState? TryNetlink()
    {
        try
        {
            return NetlinkNetwork.Read(HostRoot.Live);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private LiveNetworkState Complete(LiveNetworkState state, CancellationToken cancellationToken) => state with
    {
        Links = state.Links.Select(l => l with { Ipv6Settings = ReadIpv6Settings(l.Name) }).ToList(),
        DefaultIpv6Settings = ReadIpv6Settings("default"),
        ReadRules = () =>
        [
            .. LiveNetworkState.ParseRules(Ip(cancellationToken, "-4", "rule", "show"), false),
            .. LiveNetworkState.ParseRules(Ip(cancellationToken, "-6", "rule", "show"), true),
        ],
    };

    private Dictionary<string, string> ReadIpv6Settings(string link)
    {
        var settings = new Dictionary<string, string>();
        if (link.Contains('/') || link is "." or "..") return settings;
        foreach (string name in Ipv6SettingNames)
            if (kernel.Read($"net/ipv6/conf/{link}/{name}") is { } value) settings[name] = value;
        return settings;
    }

    private string Ip(CancellationToken cancellationToken, params string[] arguments) =>
        runner.Run(new CommandRequest("ip", arguments) { Timeout = TimeSpan.FromSeconds(20) }, cancellationToken)
            .EnsureSuccess("Check that iproute2 is installed and 'ip' runs.").StandardOutput;
}
