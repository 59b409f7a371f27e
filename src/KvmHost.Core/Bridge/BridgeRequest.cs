using System.Net;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>What the admin asked for, validated as a whole before anything is read or written.</summary>
public sealed record BridgeRequest
{
    public required string Name { get; init; }
    public required string Interface { get; init; }
    public AddressSource Source { get; init; } = AddressSource.FromInterface;
    public IReadOnlyList<IpCidr> Addresses { get; init; } = [];
    public IPAddress? Gateway { get; init; }
    public IPAddress? Gateway6 { get; init; }
    public IReadOnlyList<IPAddress> DnsServers { get; init; } = [];
    public bool? Stp { get; init; }
    public int? ForwardDelay { get; init; }
    public int? Mtu { get; init; }
    public IReadOnlyList<IPAddress> Probes { get; init; } = [];

    /// <summary>Parses and checks every value; throws the first problem with a stable ErrorId.</summary>
    public static BridgeRequest Create(string name, string nic, string[]? addresses, string? gateway, string[]? dns, bool dhcp,
        bool? stp, int? forwardDelay, int? mtu, string[]? probes)
    {
        InterfaceName.Validate(name, "Name");
        InterfaceName.Validate(nic, "Interface");
        if (name == nic)
            throw Invalid(ErrorIds.InvalidBridgeOption, $"The bridge and the interface are both named '{name}'.", name,
                "Name the bridge differently from the NIC it takes over, for example br0.");
        if (name == "lo" || nic == "lo")
            throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.InvalidArgument,
                "The loopback interface cannot be bridged.", "lo", "Pick the Ethernet NIC that carries the host's traffic.");

        var cidrs = (addresses ?? []).Select(a => IpCidr.Parse(a, "IPAddress")).ToList();
        if (dhcp && cidrs.Count > 0)
            throw Invalid(ErrorIds.InvalidBridgeOption, "-Dhcp and -IPAddress exclude each other.", "Dhcp", "Give either static addresses or -Dhcp.");
        if (cidrs.GroupBy(c => c.Address).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw Invalid(ErrorIds.InvalidIPAddress, $"The address {duplicate.Key} is given twice.", duplicate.Key.ToString(), "Give each address once.");

        IPAddress? gw4 = null, gw6 = null;
        if (!string.IsNullOrWhiteSpace(gateway))
        {
            if (cidrs.Count == 0)
                throw Invalid(ErrorIds.InvalidBridgeOption, "-Gateway needs -IPAddress (with the NIC's current or DHCP settings the gateway comes along).",
                    gateway, "Add -IPAddress, or leave out -Gateway.");
            var address = IpCidr.ParseAddress(gateway, "Gateway");
            var sameFamily = cidrs.Where(c => c.Address.AddressFamily == address.AddressFamily).ToList();
            if (!sameFamily.Any(c => c.Contains(address)))
                throw new KvmHostException(ErrorIds.GatewayOutsideSubnet, FailureKind.InvalidArgument,
                    $"The gateway {address} is not inside any of the bridge's subnets ({string.Join(", ", cidrs)}). Nothing was changed.",
                    gateway, "Check the prefix length (for example /24) and the gateway's address.");
            if (sameFamily.Any(c => c.Address.Equals(address)))
                throw new KvmHostException(ErrorIds.GatewayOutsideSubnet, FailureKind.InvalidArgument,
                    $"The gateway {address} is the bridge's own address. Nothing was changed.", gateway, "Give the router's address.");
            if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) gw4 = address; else gw6 = address;
        }
        if ((dns?.Length ?? 0) > 0 && cidrs.Count == 0 && !dhcp)
            throw Invalid(ErrorIds.InvalidBridgeOption, "-DnsServer needs -IPAddress or -Dhcp (by default the NIC's own DNS servers come along).",
                "DnsServer", "Add -IPAddress or -Dhcp, or leave out -DnsServer.");
        var dnsServers = (dns ?? []).Select(d => IpCidr.ParseAddress(d, "DnsServer")).Distinct().ToList();
        var probeAddresses = (probes ?? []).Select(p => IpCidr.ParseAddress(p, "Probe")).Distinct().ToList();

        if (forwardDelay is < 0 or > 30)
            throw Invalid(ErrorIds.InvalidBridgeOption, $"-ForwardDelay {forwardDelay} is outside 0-30 seconds.", "ForwardDelay", "Give 0 to 30 seconds (NetworkManager needs 2 to 30).");
        if (mtu is < 68 or > 65535)
            throw Invalid(ErrorIds.InvalidBridgeOption, $"-Mtu {mtu} is outside 68-65535.", "Mtu", "Give an MTU such as 1500 or 9000.");

        return new BridgeRequest
        {
            Name = name,
            Interface = nic,
            Source = dhcp ? AddressSource.Dhcp : cidrs.Count > 0 ? AddressSource.Static : AddressSource.FromInterface,
            Addresses = cidrs,
            Gateway = gw4,
            Gateway6 = gw6,
            DnsServers = dnsServers,
            Stp = stp,
            ForwardDelay = forwardDelay,
            Mtu = mtu,
            Probes = probeAddresses,
        };
    }

    private static KvmHostException Invalid(string id, string message, object? target, string hint) =>
        new(id, FailureKind.InvalidArgument, message + " Nothing was changed.", target, hint);
}
