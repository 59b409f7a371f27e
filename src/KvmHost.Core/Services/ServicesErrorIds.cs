namespace KvmHost.Core.Platform;

/// <summary>Error ids of the services area (Enable-Libvirtd, Get-Libvirtd).</summary>
public static partial class ErrorIds
{
    public const string SystemdNotRunning = nameof(SystemdNotRunning);
    public const string LibvirtNotInstalled = nameof(LibvirtNotInstalled);
    public const string LibvirtPackageNotInstalled = nameof(LibvirtPackageNotInstalled);
    public const string LibvirtStartFailed = nameof(LibvirtStartFailed);
    public const string LibvirtNotReachable = nameof(LibvirtNotReachable);
    public const string SystemctlFailed = nameof(SystemctlFailed);
}
