using System.Net;

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
}
