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

/// <summary>The libvirt daemons of a host as they are: which layout, each unit, and whether the daemon answers (Get-Libvirtd).</summary>
public class LibvirtdState
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
    public required string Root { get; init; }
    public string? Note { get; init; }
}

/// <summary>What Enable-Libvirtd did (or, with WhatIf, would do): the daemons as they are now, plus the change.</summary>
public sealed class LibvirtdResult : LibvirtdState
{
    public required bool Changed { get; init; }

    /// <summary>A preview (-WhatIf, or every step declined at -Confirm): nothing was run; the state is the state now.</summary>
    public required bool WhatIf { get; init; }

    /// <summary>The systemctl commands of this run, in order: run, or with WhatIf to be run; empty when nothing was to change.</summary>
    public required string[] PlannedChanges { get; init; }

    /// <summary>True when the running system was changed; false for an offline root (units only enabled) and under WhatIf.</summary>
    public required bool RuntimeApplied { get; init; }
}
