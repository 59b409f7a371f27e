using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>One libvirt unit in the result: flat strings, so it survives remoting unchanged.</summary>
public sealed class LibvirtUnit
{
    public required string Name { get; init; }
    public required string ActiveState { get; init; }
    public required string SubState { get; init; }
    public required string UnitFileState { get; init; }

    public override string ToString() => $"{Name} {ActiveState} {UnitFileState}";
}

/// <summary>The libvirt daemons of a host: which layout, each unit, and whether the daemon answers.</summary>
public sealed class LibvirtdState
{
    public required LibvirtLayout Mode { get; init; }
    public required LibvirtUnit[] Units { get; init; }

    /// <summary>Every socket (or, without sockets, the service) is running; services may wait for their first connection.</summary>
    public required bool Active { get; init; }

    /// <summary>Every unit is set to start at boot (enabled, or static).</summary>
    public required bool Enabled { get; init; }

    /// <summary>The daemon answered a libvirt call on <see cref="Endpoint"/>; false when not probed (offline root).</summary>
    public required bool Reachable { get; init; }

    public required string Endpoint { get; init; }
    public required string ProbeDetail { get; init; }
    public required bool Changed { get; init; }

    /// <summary>The systemctl commands run (or, under -WhatIf, that would run), in order.</summary>
    public required string[] Actions { get; init; }

    /// <summary>False for an offline root: units were only enabled there; nothing was started or probed.</summary>
    public required bool RuntimeApplied { get; init; }

    public required bool WhatIf { get; init; }
    public required string Root { get; init; }
    public string? Note { get; init; }
}
