namespace KvmHost.Core.Platform;

public enum DistroFamily { RedHat, Fedora, Debian }

public enum PackageManagerKind { Yum, Dnf, Apt }

/// <summary>How libvirt's daemons are laid out on a fresh install of the release.</summary>
public enum LibvirtLayout { Monolithic, Modular }

public enum BridgeBackend { NetworkScripts, NetworkManager }

/// <summary>
/// What differs between releases, decided once from os-release so that no cmdlet compares version
/// numbers itself. The facts per release are the README's release table.
/// </summary>
public sealed record ReleaseProfile
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string VersionId { get; init; }
    public required int MajorVersion { get; init; }
    public required DistroFamily Family { get; init; }
    public required PackageManagerKind PackageManager { get; init; }
    public required LibvirtLayout LibvirtLayout { get; init; }
    public required BridgeBackend BridgeBackend { get; init; }

    /// <summary>The packages that make a KVM host on this release (the RHEL 7 procedure's list, renamed per release).</summary>
    public required IReadOnlyList<string> KvmPackages { get; init; }

    /// <summary>A dnf module stream that must be enabled first (RHEL 8's "virt"), else null.</summary>
    public string? DnfModule { get; init; }

    public override string ToString() => $"{Name} ({Id} {VersionId})";

    private static readonly string[] RedHatRebuilds =
        ["rhel", "centos", "rocky", "almalinux", "ol", "scientific", "eurolinux", "navy", "circle", "cloudlinux", "virtuozzo"];

    public static ReleaseProfile Detect(HostRoot root)
    {
        OsRelease? release = null;
        foreach (string path in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            string? text = root.TryReadText(path, 64 * 1024);
            if (text is not null) { release = OsRelease.Parse(text); break; }
        }
        if (release is null && root.TryReadText("/etc/redhat-release", 4096) is { } legacy)
            release = OsRelease.FromRedHatRelease(legacy);
        if (release is null)
            throw new KvmHostException(ErrorIds.OsReleaseNotFound, FailureKind.ObjectNotFound,
                $"Cannot tell which Linux release this is: neither {root.Describe("/etc/os-release")} nor /usr/lib/os-release exists.",
                "/etc/os-release", "Point -Root at the top of an installed system.");
        return FromOsRelease(release);
    }

    internal static ReleaseProfile FromOsRelease(OsRelease release)
    {
        string id = release.Id.ToLowerInvariant();
        var like = release.IdLike.Select(l => l.ToLowerInvariant()).ToHashSet();
        int major = ParseMajor(release.VersionId);

        if (id == "amzn")
            throw Unsupported(release, "Amazon Linux is not a RHEL release: its package names and versions differ.");
        if (id == "fedora")
        {
            if (major < 30) throw Unsupported(release, "Fedora before 30 is out of support.");
            return Build(release, DistroFamily.Fedora, major, PackageManagerKind.Dnf,
                major >= 35 ? LibvirtLayout.Modular : LibvirtLayout.Monolithic, BridgeBackend.NetworkManager,
                // The RHEL 7 procedure's tools by Fedora's names, not the "virtualization" group: whether a group is
                // installed is known only to dnf's own database, so it could not be queried with rpm.
                ["qemu-kvm", "qemu-img", "libvirt", "python3-libvirt", "guestfs-tools", "virt-install"], null);
        }
        if (RedHatRebuilds.Contains(id) || like.Contains("rhel"))
        {
            return major switch
            {
                7 => Build(release, DistroFamily.RedHat, 7, PackageManagerKind.Yum, LibvirtLayout.Monolithic, BridgeBackend.NetworkScripts,
                    ["qemu-kvm", "qemu-img", "libvirt", "libvirt-python", "libguestfs-tools", "virt-install"], null),
                8 => Build(release, DistroFamily.RedHat, 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager,
                    ["qemu-kvm", "qemu-img", "libvirt", "python3-libvirt", "libguestfs-tools", "virt-install"], "virt"),
                9 or 10 => Build(release, DistroFamily.RedHat, major, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager,
                    ["qemu-kvm", "qemu-img", "libvirt", "python3-libvirt", "guestfs-tools", "virt-install"], null),
                _ => throw Unsupported(release, "KvmHost supports RHEL and its rebuilds 7 to 10."),
            };
        }
        if (id is "debian" or "ubuntu" || like.Contains("debian") || like.Contains("ubuntu"))
        {
            return Build(release, DistroFamily.Debian, major, PackageManagerKind.Apt, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager,
                ["qemu-system-x86", "qemu-utils", "libvirt-daemon-system", "libvirt-clients", "virtinst", "python3-libvirt", "libguestfs-tools"], null);
        }
        throw Unsupported(release, "KvmHost supports RHEL 7-10 and its rebuilds, Fedora, Debian and Ubuntu.");
    }

    private static ReleaseProfile Build(OsRelease release, DistroFamily family, int major, PackageManagerKind packageManager,
        LibvirtLayout layout, BridgeBackend bridge, string[] packages, string? module) => new()
    {
        Id = release.Id,
        Name = release.PrettyName,
        VersionId = release.VersionId ?? string.Empty,
        MajorVersion = major,
        Family = family,
        PackageManager = packageManager,
        LibvirtLayout = layout,
        BridgeBackend = bridge,
        KvmPackages = packages,
        DnfModule = module,
    };

    private static int ParseMajor(string? versionId)
    {
        if (string.IsNullOrEmpty(versionId)) return 0;
        int end = 0;
        while (end < versionId.Length && char.IsAsciiDigit(versionId[end])) end++;
        return end == 0 ? 0 : int.Parse(versionId.AsSpan(0, end), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static KvmHostException Unsupported(OsRelease release, string why) =>
        new(ErrorIds.UnsupportedRelease, FailureKind.NotImplemented,
            $"Unsupported release '{release.PrettyName}' (ID={release.Id}, VERSION_ID={release.VersionId ?? "none"}). {why}",
            release.PrettyName, "Run on RHEL/CentOS/Rocky/AlmaLinux/Oracle Linux 7-10, Fedora, Debian or Ubuntu.");
}
