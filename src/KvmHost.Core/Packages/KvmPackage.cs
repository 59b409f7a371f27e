namespace KvmHost.Core.Packages;

public enum PackageStatus
{
    /// <summary>Installed before this run; nothing was done for it.</summary>
    AlreadyInstalled,
    /// <summary>Installed by this run.</summary>
    Installed,
    /// <summary>Missing; -WhatIf showed it would be installed.</summary>
    WouldInstall,
    /// <summary>Missing, and the install did not bring it.</summary>
    Failed,
    /// <summary>Not installed (the read side, Get-KvmPackages).</summary>
    Missing,
}

/// <summary>
/// One package of a KVM host, as Get-KvmPackages sees it and Install-KvmPackages leaves it. Only
/// strings, bools and enums, so it survives remoting; Enable-Libvirtd takes it from the pipeline.
/// </summary>
public sealed class KvmPackage
{
    public required string Name { get; init; }

    /// <summary>VERSION-RELEASE (rpm) or the Debian version as installed now; null when not installed.</summary>
    public string? Version { get; init; }
    public required PackageStatus Status { get; init; }
    public bool Changed { get; init; }

    /// <summary>yum, dnf or apt-get: the tool that installs on this release.</summary>
    public required string PackageManager { get; init; }

    /// <summary>The root the package lives in; "/" is the running host.</summary>
    public string Root { get; init; } = "/";

    /// <summary>
    /// True when the transaction brought a package that the package manager's own rule
    /// (dnf needs-restarting -r) says needs a reboot: a kernel, glibc, systemd, dbus, firmware.
    /// </summary>
    public bool RebootAdvised { get; init; }

    /// <summary>What to do next because of this package (a daemon to start), or null.</summary>
    public string? FollowUp { get; init; }

    public bool IsInstalled => Status is PackageStatus.AlreadyInstalled or PackageStatus.Installed;

    public override string ToString() => Version is null ? $"{Name} ({Status})" : $"{Name} {Version} ({Status})";
}
