using System.Diagnostics.CodeAnalysis;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>One reachability check of the rollback guard: did the target answer before and after.</summary>
public sealed record BridgeProbe(string Target, bool Before, bool? After)
{
    public override string ToString() => $"{Target}: before {(Before ? "ok" : "no answer")}, after {After switch { true => "ok", false => "no answer", null => "not checked" }}";
}

/// <summary>
/// A host bridge as it is: in the configuration files and, on the live root, in the running system.
/// Get-HostBridge emits these; they describe state only. Simple properties, so that it looks the same
/// after remoting serialization.
/// </summary>
public class HostBridge
{
    public HostBridge() { }

    /// <summary>Copies the state of another object (a setter result starts from the state it reads back).</summary>
    [SetsRequiredMembers]
    protected HostBridge(HostBridge state)
    {
        Name = state.Name;
        Ports = state.Ports;
        MacAddress = state.MacAddress;
        Addresses = state.Addresses;
        Gateway = state.Gateway;
        Gateway6 = state.Gateway6;
        DnsServers = state.DnsServers;
        Dhcp = state.Dhcp;
        Stp = state.Stp;
        ForwardDelay = state.ForwardDelay;
        Mtu = state.Mtu;
        Backend = state.Backend;
        ConfigurationFiles = state.ConfigurationFiles;
        Active = state.Active;
        Notes = state.Notes;
        Root = state.Root;
    }

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
    /// <summary>The running system has the bridge (always false for another -Root).</summary>
    public bool Active { get; init; }
    public string[] Notes { get; init; } = [];
    public string Root { get; init; } = "/";
}

/// <summary>
/// What New-HostBridge and Remove-HostBridge return: the bridge as it is after the call (under -WhatIf:
/// as it is now, never a projection), and what the call changed or, as a preview, would change.
/// </summary>
public sealed class HostBridgeResult : HostBridge
{
    [SetsRequiredMembers]
    public HostBridgeResult(HostBridge state) : base(state) { }

    public bool Changed { get; init; }
    /// <summary>True when -WhatIf (or a "no" at the prompt) kept every change from happening.</summary>
    public bool WhatIf { get; init; }
    public bool RolledBack { get; init; }
    public string? RollbackReason { get; init; }
    /// <summary>False on another -Root: only files were written, the running network was not touched.</summary>
    public bool RuntimeApplied { get; init; }
    /// <summary>What the call does, step by step (files, live commands, carried settings); empty when nothing is to do.</summary>
    public string[] PlannedChanges { get; init; } = [];
    /// <summary>Why a real run would stop (not root, NetworkManager not running); filled in by -WhatIf.</summary>
    public string[] Blockers { get; init; } = [];
    public FileChange[] FileChanges { get; init; } = [];
    /// <summary>The live commands run, in order (under -WhatIf they are in PlannedChanges).</summary>
    public string[] LiveChanges { get; init; } = [];
    public BridgeProbe[] Probes { get; init; } = [];
}
