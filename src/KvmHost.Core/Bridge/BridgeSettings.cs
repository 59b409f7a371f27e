namespace KvmHost.Core.Bridge;

/// <summary>How the bridge gets its addresses.</summary>
public enum AddressSource
{
    /// <summary>What the NIC has now (live) or in its configuration file (offline).</summary>
    FromInterface,
    Static,
    Dhcp,
}

/// <summary>A route to carry over onto the bridge (default routes are kept as gateways instead).</summary>
public sealed record BridgeRoute(string Destination, string? Gateway, int? Metric)
{
    /// <summary>The routing table; null is the main table.</summary>
    public string? Table { get; init; }
    /// <summary>Set for a route read from the running system; otherwise the family follows the destination and gateway.</summary>
    public bool? IPv6 { get; init; }

    public override string ToString() => Gateway is null ? Destination : $"{Destination} via {Gateway}";
}

/// <summary>
/// Everything the bridge should be, fully resolved: the one input of every renderer and applier,
/// so that files and live state always describe the same thing.
/// </summary>
public sealed record BridgeSettings
{
    public required string Name { get; init; }
    public required string Port { get; init; }
    /// <summary>The bridge's IP settings, its MAC (the NIC's, so DHCP and neighbours see the same host) and MTU.</summary>
    public required ConfiguredIp Ip { get; init; }
    public bool Stp { get; init; }
    /// <summary>Seconds; null keeps the backend's default.</summary>
    public int? ForwardDelay { get; init; }
    /// <summary>The NIC's own profile, whose whole layer 3 identity the bridge carries; null when the NIC has none (then Ip is written).</summary>
    public NicProfile? Source { get; init; }
    /// <summary>How the NIC runs now and what the admin asked instead: the effective values a carried profile is completed with.</summary>
    public required CarryContext Context { get; init; }
    /// <summary>The path of the bridge's file when it is kept exactly as it is: the bridge has this NIC already and nothing else was asked.</summary>
    public string? KeepBridgeFile { get; init; }
}
