using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>One reachability check of the rollback guard: did the target answer before and after.</summary>
public sealed record BridgeProbe(string Target, bool Before, bool? After)
{
    public override string ToString() => $"{Target}: before {(Before ? "ok" : "no answer")}, after {After switch { true => "ok", false => "no answer", null => "not checked" }}";
}

/// <summary>
/// A host bridge as New-, Get- and Remove-HostBridge report it. Simple properties only, so that it
/// looks the same after remoting serialization.
/// </summary>
public sealed class HostBridge
{
    public required string Name { get; init; }
    public string[] Ports { get; init; } = [];
    public string? MacAddress { get; init; }
    public string[] Addresses { get; init; } = [];
    public string? Gateway { get; init; }
    public string? Gateway6 { get; init; }
    public string[] DnsServers { get; init; } = [];
    public bool Dhcp { get; init; }
    public bool Stp { get; init; }
    public int? ForwardDelay { get; init; }
    public int? Mtu { get; init; }
    public string? Backend { get; init; }
    public string[] ConfigurationFiles { get; init; } = [];
    /// <summary>The running system has the bridge with its ports (always false for another -Root).</summary>
    public bool Active { get; init; }
    public bool Changed { get; init; }
    public bool RolledBack { get; init; }
    public string? RollbackReason { get; init; }
    /// <summary>True when -WhatIf (or a "no" at the prompt) kept every change from happening.</summary>
    public bool WhatIf { get; init; }
    /// <summary>False on another -Root: only files were written, the running network was not touched.</summary>
    public bool RuntimeApplied { get; init; }
    public FileChange[] FileChanges { get; init; } = [];
    /// <summary>The live commands run (or, under -WhatIf, that would run), in order.</summary>
    public string[] LiveChanges { get; init; } = [];
    public BridgeProbe[] Probes { get; init; } = [];
    public string[] Notes { get; init; } = [];
    public string Root { get; init; } = "/";
}
