namespace KvmHost.Core.Packages;

public enum PackageStatus
{
    /// <summary>Installed, and (in a result of Install-KvmPackages) it was before this run: nothing was done for it.</summary>
    AlreadyInstalled,
    /// <summary>Installed by this run.</summary>
    Installed,
    /// <summary>Missing, and the install did not bring it.</summary>
    Failed,
    /// <summary>Not installed (now; under -WhatIf, PlannedChanges says how it would be).</summary>
    Missing,
}

/// <summary>
/// One package of a KVM host as the package database has it now: what Get-KvmPackages reports and
/// Test-KvmHost checks. Only strings, bools and enums, so it survives remoting.
/// </summary>
public class KvmPackage
{
    public required string Name { get; init; }

    /// <summary>VERSION-RELEASE (rpm) or the Debian version as installed now; null when not installed.</summary>
    public string? Version { get; init; }
    public required PackageStatus Status { get; init; }

    /// <summary>yum, dnf or apt-get: the tool that installs on this release.</summary>
    public required string PackageManager { get; init; }

    /// <summary>The root the package lives in; "/" is the running host.</summary>
    public string Root { get; init; } = "/";

    public bool IsInstalled => Status is PackageStatus.AlreadyInstalled or PackageStatus.Installed;

    public override string ToString() => Version is null ? $"{Name} ({Status})" : $"{Name} {Version} ({Status})";
}

/// <summary>
/// What Install-KvmPackages did for one package (or, with WhatIf, would do): its state now, plus the change.
/// Enable-Libvirtd takes it from the pipeline.
/// </summary>
public sealed class KvmPackageResult : KvmPackage
{
    /// <summary>True when this run installed the package.</summary>
    public bool Changed { get; init; }

    /// <summary>A preview (-WhatIf, or a declined -Confirm): nothing was run; Status is the state now.</summary>
    public bool WhatIf { get; init; }

    /// <summary>The package manager commands that install it (run, or with WhatIf to be run); empty when it was installed already.</summary>
    public string[] PlannedChanges { get; init; } = [];

    /// <summary>
    /// True when the transaction brought a package that the package manager's own rule
    /// (dnf needs-restarting -r) says needs a reboot: a kernel, glibc, systemd, dbus, firmware.
    /// </summary>
    public bool RebootAdvised { get; init; }

    /// <summary>What to do next because of this package (a daemon to start), or null.</summary>
    public string? FollowUp { get; init; }
}
