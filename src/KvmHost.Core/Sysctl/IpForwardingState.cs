using System.Globalization;

namespace KvmHost.Core.Sysctl;

public enum ForwardingFamily { IPv4, IPv6 }

/// <summary>What -AddressFamily accepts.</summary>
public enum ForwardingFamilySelection { IPv4, IPv6, Both }

/// <summary>
/// Forwarding for one address family as it is: the running kernel, the file this module manages, and what
/// boot will really apply (the winning file). Get-IpForwarding's answer; flat and serializable so remote
/// results look the same.
/// </summary>
public record IpForwardingState
{
    public ForwardingFamily AddressFamily { get; init; }

    /// <summary>"net.ipv4.ip_forward" or "net.ipv6.conf.all.forwarding".</summary>
    public string Key { get; init; } = string.Empty;

    /// <summary>The running kernel's value (of the caller's network namespace); null when -Root is not "/".</summary>
    public int? RuntimeValue { get; init; }

    /// <summary>True when the running kernel was read (and, by Set-IpForwarding, written): only for -Root "/".</summary>
    public bool RuntimeApplied { get; init; }

    /// <summary>The value boot will apply (systemd-sysctl order); null when no file sets it (kernel default 0).</summary>
    public int? PersistentValue { get; init; }

    /// <summary>The file the module manages (its drop-in unless -Path says otherwise), resolved; null when it does not exist.</summary>
    public string? ConfigurationFile { get; init; }

    /// <summary>The value ConfigurationFile assigns; null when it does not set the key.</summary>
    public int? ConfiguredValue { get; init; }

    /// <summary>True when boot reads ConfigurationFile at all (directly or through a link such as 99-sysctl.conf).</summary>
    public bool ConfigurationFileLoadedAtBoot { get; init; }

    /// <summary>The real file whose line decides the boot value (e.g. /etc/sysctl.conf), or null.</summary>
    public string? EffectiveFile { get; init; }

    /// <summary>How boot reaches EffectiveFile when it is a link (e.g. /etc/sysctl.d/99-sysctl.conf).</summary>
    public string? EffectiveEntry { get; init; }

    public int? EffectiveLine { get; init; }

    /// <summary>The glob (e.g. net.ipv6.conf.*.forwarding) when a pattern, not the key itself, decides.</summary>
    public string? EffectivePattern { get; init; }

    /// <summary>True when ConfigurationFile sets the key but boot ends with another value from another file.</summary>
    public bool Overridden { get; init; }

    /// <summary>What stands in the way of the setting at boot (a later file that overrides it).</summary>
    public string[] Warnings { get; init; } = [];

    public string Root { get; init; } = "/";

    // Sealed: a derived record would otherwise print every property instead.
    public sealed override string ToString() =>
        $"{Key}: runtime {RuntimeValue?.ToString(CultureInfo.InvariantCulture) ?? "n/a"}, boot {PersistentValue?.ToString(CultureInfo.InvariantCulture) ?? "unset"} ({EffectiveFile ?? "no file"})";

    /// <summary>This state alone, without what a derived result adds (a read hands out the read type only).</summary>
    public IpForwardingState AsState() => new(this);
}

/// <summary>
/// What Set-IpForwarding did for one address family (or, with WhatIf, would do): the state now, read back
/// after the run, plus the change.
/// </summary>
public sealed record IpForwardingResult : IpForwardingState
{
    public IpForwardingResult() { }

    public IpForwardingResult(IpForwardingState state) : base(state.AsState()) { }

    /// <summary>True when this run changed a file or the running kernel for this family.</summary>
    public bool Changed { get; init; }

    /// <summary>A preview (-WhatIf, or every change declined at -Confirm): nothing was written; the state is the state now.</summary>
    public bool WhatIf { get; init; }

    /// <summary>Each file line and kernel value change of this run: made, or with WhatIf to be made; empty when converged.</summary>
    public string[] PlannedChanges { get; init; } = [];

    /// <summary>The files written, with their backups.</summary>
    public string[] FileChanges { get; init; } = [];

    /// <summary>What else the admin may need (accept_ra on the uplink, br_netfilter keys).</summary>
    public string[] Notes { get; init; } = [];
}
