using KvmHost.Core.Bridge;

namespace KvmHost;

/// <summary>
/// New-KvmGuest's -Bridge: a bridge's name, typed or piped, and for a bridge object piped in, where that bridge is when
/// it is not on this host's running system yet. A preview of the whole procedure
/// (<c>New-HostBridge br0 -Interface enp1s0 -WhatIf | New-KvmGuest vm01 ... -WhatIf</c>) pipes a bridge that exists
/// only as a plan; the guest's preview then names that as a blocker instead of refusing the bridge as missing.
/// </summary>
public sealed class BridgeArgument
{
    /// <summary>A bridge name as typed (PowerShell converts a string through this constructor).</summary>
    public BridgeArgument(string name)
    {
        Name = name;
    }

    private BridgeArgument(string name, string? elsewhere)
    {
        Name = name;
        Elsewhere = elsewhere;
    }

    public string Name { get; }

    /// <summary>Where the piped bridge is when it is not live here: an image, or New-HostBridge's preview; null for a name or a live bridge.</summary>
    public string? Elsewhere { get; }

    /// <summary>From a bridge object, live or deserialized: its Name, Root, Active and (on a New-HostBridge result) WhatIf.</summary>
    internal static BridgeArgument FromBridge(string name, string? root, bool active, bool whatIf)
    {
        string? elsewhere = root is not null && root != "/"
            ? $"the piped bridge is in {root}, not in this host's running system"
            : whatIf ? "the piped bridge is New-HostBridge's -WhatIf preview, which created nothing"
            : !active ? "the piped bridge is configured but not active on this host"
            : null;
        return new BridgeArgument(name, elsewhere);
    }

    internal static BridgeArgument FromBridge(HostBridge bridge) =>
        FromBridge(bridge.Name, bridge.Root, bridge.Active, bridge is HostBridgeResult { WhatIf: true });

    public override string ToString() => Name;
}
