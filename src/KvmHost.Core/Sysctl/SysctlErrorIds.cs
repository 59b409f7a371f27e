namespace KvmHost.Core.Platform;

/// <summary>Error ids of the sysctl area (Set-IpForwarding, Get-IpForwarding).</summary>
public static partial class ErrorIds
{
    /// <summary>A /proc/sys file the command needs does not exist (IPv6 disabled, module not loaded).</summary>
    public const string KernelParameterNotFound = nameof(KernelParameterNotFound);

    /// <summary>Writing a /proc/sys file failed, or reading it back showed another value.</summary>
    public const string KernelParameterNotApplied = nameof(KernelParameterNotApplied);

    /// <summary>A later file overrides the setting and lives where this module will not edit it (/run, /usr).</summary>
    public const string SysctlConflictNotResolvable = nameof(SysctlConflictNotResolvable);

    /// <summary>-Path does not name a usable sysctl configuration file.</summary>
    public const string SysctlPathInvalid = nameof(SysctlPathInvalid);

    /// <summary>-Uplink is not a possible interface name (it becomes part of a /proc/sys path).</summary>
    public const string ForwardingUplinkInvalid = nameof(ForwardingUplinkInvalid);
}
