using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>Checks Install-KvmPackages' results for the package that brings the libvirt daemons.</summary>
public static class LibvirtPackages
{
    /// <summary>The names that bring libvirt's daemons on the supported releases (Fedora installs a group).</summary>
    public static readonly string[] DaemonPackages = ["libvirt", "libvirt-daemon-system", "libvirt-daemon", "libvirt-daemon-kvm", "@virtualization"];

    private static readonly string[] Present = ["AlreadyInstalled", "Installed"];

    /// <summary>Fails before systemd is touched when libvirt is not among the packages, or was not installed.</summary>
    public static void EnsureInstalled(IReadOnlyList<(string Name, string Status)> packages)
    {
        var libvirt = packages.Where(p => DaemonPackages.Contains(p.Name, StringComparer.Ordinal)).ToList();
        if (libvirt.Count == 0)
            throw new KvmHostException(ErrorIds.LibvirtPackageNotInstalled, FailureKind.NotInstalled,
                $"The packages piped in ({string.Join(", ", packages.Select(p => p.Name))}) do not include libvirt; nothing was changed.",
                "libvirt", "Pipe the output of Install-KvmPackages for this release, or run Enable-Libvirtd without pipeline input.");
        var missing = libvirt.FirstOrDefault(p => !Present.Contains(p.Status, StringComparer.OrdinalIgnoreCase));
        if (missing != default)
            throw new KvmHostException(ErrorIds.LibvirtPackageNotInstalled, FailureKind.NotInstalled,
                $"Package {missing.Name} is {(missing.Status.Length == 0 ? "of unknown status" : missing.Status)}, so the libvirt daemons cannot be enabled; nothing was changed.",
                missing.Name, missing.Status == "WouldInstall"
                    ? "Install-KvmPackages ran with -WhatIf: run it without -WhatIf first."
                    : "Fix the package installation (see Install-KvmPackages' error), then run again.");
    }
}
