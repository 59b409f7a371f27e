using System.Net;
using System.Text.Json;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

public sealed record LiveAddress(IpCidr Cidr, string Scope, bool Dynamic)
{
    public bool IsGlobal => Scope == "global";
}

public sealed record LiveLink(string Name, string? Kind, string? MacAddress, int Mtu, bool Up, string? Master, IReadOnlyList<LiveAddress> Addresses)
{
    public bool IsBridge => Kind == "bridge";
    public bool IsLoopback => Name == "lo";
}

/// <summary>A route as "ip -j route" reports it; Protocol "kernel" routes come and go with their address.</summary>
public sealed record LiveRoute(bool IPv6, string Destination, string? Gateway, string? Device, string? Protocol, int? Metric, string? Scope, string? PreferredSource)
{
    public bool IsDefault => Destination == "default";
    public bool FollowsAddress => Protocol is "kernel" || (IPv6 && Destination.StartsWith("fe80::", StringComparison.OrdinalIgnoreCase)) || Destination.StartsWith("ff00::", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Links, addresses and routes of the network namespace this process runs in.</summary>
public sealed record LiveNetworkState(IReadOnlyList<LiveLink> Links, IReadOnlyList<LiveRoute> Routes)
{
    public LiveLink? Link(string name) => Links.FirstOrDefault(l => l.Name == name);

    public IEnumerable<LiveRoute> RoutesVia(string device) => Routes.Where(r => r.Device == device);

    public IEnumerable<LiveLink> PortsOf(string bridge) => Links.Where(l => l.Master == bridge);

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
                            a.TryGetProperty("dynamic", out var dyn) && dyn.ValueKind == JsonValueKind.True));
                    }
                }
                links.Add(new LiveLink(name, kind, Str(link, "address"), link.TryGetProperty("mtu", out var mtu) ? mtu.GetInt32() : 0,
                    flags.Contains("UP"), Str(link, "master"), addresses));
            }
        }
        var routes = new List<LiveRoute>();
        foreach (var (json, v6) in new[] { (route4Json, false), (route6Json, true) })
        {
            using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
            foreach (var r in document.RootElement.EnumerateArray())
            {
                if (Str(r, "type") is { } type && type != "unicast") continue;
                routes.Add(new LiveRoute(v6, Str(r, "dst") ?? "default", Str(r, "gateway"), Str(r, "dev"), Str(r, "protocol"),
                    r.TryGetProperty("metric", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : null,
                    Str(r, "scope"), Str(r, "prefsrc")));
            }
        }
        return new LiveNetworkState(links, routes);
    }

    private static string? Str(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>Reads the live state with iproute2's JSON output (stable field names since iproute2 4.14).</summary>
public sealed class LiveNetworkReader(ICommandRunner runner)
{
    public LiveNetworkState Read(CancellationToken cancellationToken)
    {
        string addresses = Ip(cancellationToken, "-j", "-d", "address", "show");
        string routes4 = Ip(cancellationToken, "-j", "-4", "route", "show", "table", "main");
        string routes6 = Ip(cancellationToken, "-j", "-6", "route", "show", "table", "main");
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

    private string Ip(CancellationToken cancellationToken, params string[] arguments) =>
        runner.Run(new CommandRequest("ip", arguments) { Timeout = TimeSpan.FromSeconds(20) }, cancellationToken)
            .EnsureSuccess("Check that iproute2 is installed and 'ip' runs.").StandardOutput;
}
