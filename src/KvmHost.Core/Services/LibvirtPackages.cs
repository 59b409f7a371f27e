using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>One package result piped into Enable-Libvirtd, read by property so deserialized objects work too.</summary>
public sealed record PipedPackage(string Name, string Status, bool WhatIf);

/// <summary>Checks Install-KvmPackages' results for the package that brings the libvirt daemons.</summary>
public static class LibvirtPackages
{
    /// <summary>The names that bring libvirt's daemons on the supported releases (Fedora installs a group).</summary>
    public static readonly string[] DaemonPackages = ["libvirt", "libvirt-daemon-system", "libvirt-daemon", "libvirt-daemon-kvm", "@virtualization"];

    private static readonly string[] Present = ["AlreadyInstalled", "Installed"];

    /// <summary>
    /// Fails before systemd is touched when libvirt is not among the packages, or was not installed. Under
    /// -WhatIf (<paramref name="previewing"/>) a libvirt that Install-KvmPackages -WhatIf would install is
    /// accepted: the answer is then true, "the units come with packages not installed yet".
    /// </summary>
    public static bool EnsureInstalled(IReadOnlyList<PipedPackage> packages, bool previewing)
    {
        var libvirt = packages.Where(p => DaemonPackages.Contains(p.Name, StringComparer.Ordinal)).ToList();
        if (libvirt.Count == 0)
            throw new KvmHostException(ErrorIds.LibvirtPackageNotInstalled, FailureKind.NotInstalled,
                $"The packages piped in ({string.Join(", ", packages.Select(p => p.Name))}) do not include libvirt; nothing was changed.",
                "libvirt", "Pipe the output of Install-KvmPackages for this release, or run Enable-Libvirtd without pipeline input.");
        bool pending = false;
        foreach (var package in libvirt)
        {
            if (Present.Contains(package.Status, StringComparer.OrdinalIgnoreCase)) continue;
            if (previewing && package.WhatIf && package.Status.Equals("Missing", StringComparison.OrdinalIgnoreCase))
            {
                pending = true;
                continue;
            }
            throw new KvmHostException(ErrorIds.LibvirtPackageNotInstalled, FailureKind.NotInstalled,
                $"Package {package.Name} is {(package.Status.Length == 0 ? "of unknown status" : package.Status)}, so the libvirt daemons cannot be enabled; nothing was changed.",
                package.Name, package.WhatIf
                    ? "Install-KvmPackages ran with -WhatIf: run it without -WhatIf first (or run Enable-Libvirtd with -WhatIf too)."
                    : "Fix the package installation (see Install-KvmPackages' error), then run again.");
        }
        return pending;
    }
}
