using System.Globalization;

namespace KvmHost.Core.Guests;

/// <summary>Where a new guest's operating system comes from: one of these per guest, as virt-install's install options.</summary>
public enum GuestInstallSource
{
    /// <summary>An installer ISO (--cdrom).</summary>
    IsoPath,

    /// <summary>An install tree or ISO whose kernel boots directly (--location), the only way kernel arguments reach an installer.</summary>
    Location,

    /// <summary>An existing disk image, no install (--import).</summary>
    ImportDisk,

    /// <summary>A kernel and initrd booted directly (--boot kernel=,initrd=): appliances, and the tests' tiny guest.</summary>
    Kernel,

    /// <summary>A cloud image as the backing file of a new disk, configured at first boot by cloud-init (--cloud-init).</summary>
    CloudImage,
}

/// <summary>
/// A guest to create, as New-KvmGuest's parameters give it (paths absolute). Checked by <see cref="GuestCreator.Plan"/>;
/// turned into virt-install's arguments by <see cref="VirtInstallCommand"/>.
/// </summary>
public sealed record NewGuestRequest
{
    public const long DefaultMemoryBytes = 1L << 30;

    /// <summary>The procedure's disk (--disk size=20): used for installs and cloud images when -DiskSizeBytes is not given.</summary>
    public const long DefaultDiskSizeBytes = 20L << 30;

    public required string Name { get; init; }
    public required GuestInstallSource Source { get; init; }
    public long MemoryBytes { get; init; } = DefaultMemoryBytes;
    public int ProcessorCount { get; init; } = 1;

    /// <summary>A libosinfo short id or id; null: detected from install media, else the newest generic Linux.</summary>
    public string? OsVariant { get; init; }

    public string? IsoPath { get; init; }
    public string? Location { get; init; }
    public string? ImportDisk { get; init; }
    public string? Kernel { get; init; }
    public string? Initrd { get; init; }
    public string? KernelArguments { get; init; }
    public string? CloudImage { get; init; }
    public string? UserData { get; init; }
    public string? SshPublicKey { get; init; }

    /// <summary>A new disk volume of this size; null: the default for the source (none for -Kernel and -ImportDisk).</summary>
    public long? DiskSizeBytes { get; init; }

    /// <summary>The pool of the new disk; null: libvirt's "default" pool (virt-install makes it at /var/lib/libvirt/images when missing).</summary>
    public string? StoragePool { get; init; }

    /// <summary>-Network none: no network adapter (virt-install's --network none).</summary>
    public const string NoNetwork = "none";

    /// <summary>The network virt-install puts a guest on when it is told nothing: libvirt's NAT network.</summary>
    public const string DefaultNetwork = "default";

    public string? Bridge { get; init; }

    /// <summary>A libvirt network, <see cref="NoNetwork"/>, or null: <see cref="DefaultNetwork"/> unless -Bridge is given.</summary>
    public string? Network { get; init; }
    public bool Uefi { get; init; }
    public bool Autostart { get; init; }
    public bool NoStart { get; init; }
    public string? Description { get; init; }
    public bool AllowEmulation { get; init; }

    /// <summary>The disk to create, in bytes: the request's, else the source's default.</summary>
    public long? NewDiskBytes => DiskSizeBytes ?? Source switch
    {
        GuestInstallSource.IsoPath or GuestInstallSource.Location or GuestInstallSource.CloudImage => DefaultDiskSizeBytes,
        _ => null,
    };

    /// <summary>The host files the guest is made from, each with the parameter that named it.</summary>
    public IEnumerable<(string Parameter, string Path)> InputFiles()
    {
        if (IsoPath is not null) yield return ("IsoPath", IsoPath);
        if (Location is not null && !VirtInstallCommand.IsUrl(Location)) yield return ("Location", Location);
        if (ImportDisk is not null) yield return ("ImportDisk", ImportDisk);
        if (Kernel is not null) yield return ("Kernel", Kernel);
        if (Initrd is not null) yield return ("Initrd", Initrd);
        if (CloudImage is not null) yield return ("CloudImage", CloudImage);
    }
}

/// <summary>
/// virt-install's argument list for a request: an argument list for the process runner, never a shell string.
/// Values inside virt-install's comma-separated sub-options (paths, kernel arguments, the description) are
/// double-quoted for its shlex parser, so a comma, '=', quote or backslash stays part of the value instead of
/// starting another sub-option.
/// </summary>
public static class VirtInstallCommand
{
    public const string Program = "virt-install";

    /// <summary>Where the serial console's output goes on the guest's host: Get-KvmGuestConsoleLog and the tests read it.</summary>
    public static string SerialLogPath(string guest) => $"/var/log/libvirt/qemu/{guest}-serial.log";

    public static IReadOnlyList<string> Arguments(NewGuestRequest request, string uri, string osVariant, string virtType, bool preview)
    {
        var args = new List<string>
        {
            "--connect", uri,
            "--name", request.Name,
            "--memory", (request.MemoryBytes >> 20).ToString(CultureInfo.InvariantCulture),
            "--vcpus", request.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            "--os-variant", osVariant,
            "--virt-type", virtType,
        };
        var boot = new List<string>();
        if (request.Uefi) boot.Add("uefi");
        switch (request.Source)
        {
            case GuestInstallSource.IsoPath:
                args.AddRange(["--cdrom", request.IsoPath!]);
                break;
            case GuestInstallSource.Location:
                args.AddRange(["--location", Quote(request.Location!)]);
                if (!string.IsNullOrEmpty(request.KernelArguments)) args.AddRange(["--extra-args", request.KernelArguments]);
                break;
            case GuestInstallSource.ImportDisk:
                args.AddRange(["--import", "--disk", $"path={Quote(request.ImportDisk!)}"]);
                break;
            case GuestInstallSource.Kernel:
                args.Add("--import");
                boot.Add($"kernel={Quote(request.Kernel!)}");
                if (request.Initrd is not null) boot.Add($"initrd={Quote(request.Initrd)}");
                if (!string.IsNullOrEmpty(request.KernelArguments)) boot.Add($"kernel_args={Quote(request.KernelArguments)}");
                break;
            case GuestInstallSource.CloudImage:
                args.Add("--import");
                break;
        }
        if (boot.Count > 0) args.AddRange(["--boot", string.Join(',', boot)]);
        if (request.NewDiskBytes is { } size)
        {
            var disk = new List<string> { $"size={Gibibytes(size)}" };
            if (request.StoragePool is not null) disk.Add($"pool={Quote(request.StoragePool)}");
            if (request.Source == GuestInstallSource.CloudImage) disk.Add($"backing_store={Quote(request.CloudImage!)}");
            disk.Add("format=qcow2");
            args.AddRange(["--disk", string.Join(',', disk)]);
        }
        else if (request.Source != GuestInstallSource.ImportDisk)
        {
            args.AddRange(["--disk", "none"]);
        }
        if (request.Source == GuestInstallSource.CloudImage)
            args.AddRange(["--cloud-init", request.UserData is not null ? $"user-data={Quote(request.UserData)}" : $"clouduser-ssh-key={Quote(request.SshPublicKey!)}"]);
        if (request.Bridge is not null) args.AddRange(["--network", $"bridge={Quote(request.Bridge)}"]);
        else if (request.Network == NewGuestRequest.NoNetwork) args.AddRange(["--network", "none"]);
        else args.AddRange(["--network", $"network={Quote(request.Network ?? NewGuestRequest.DefaultNetwork)}"]);
        // The procedure's --graphics none, with the serial console logged on the host (virtlogd), so its output is
        // readable after the fact and the console still works interactively.
        args.AddRange(["--graphics", "none", "--serial", $"pty,log.file={Quote(SerialLogPath(request.Name))},log.append=on"]);
        if (request.Description is not null) args.AddRange(["--metadata", $"description={Quote(request.Description)}"]);
        if (request.Autostart) args.Add("--autostart");
        // virt-install starts the guest unless told not to; --noreboot defines an import or kernel boot without starting it.
        if (request.NoStart) args.Add("--noreboot");
        args.Add("--noautoconsole");
        if (preview) args.AddRange(["--print-xml", "--dry-run"]);
        return args;
    }

    /// <summary>http://, https://, ftp://, nfs: virt-install fetches those itself.</summary>
    public static bool IsUrl(string location) =>
        location.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || location.StartsWith("ftp://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("nfs:", StringComparison.OrdinalIgnoreCase);

    /// <summary>A value for virt-install's sub-option parser (Python shlex, posix): double quotes, with '\' and '"' escaped.</summary>
    internal static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>Whole MiB as GiB, exactly: n/1024 is a binary fraction, so virt-install's float gives back n MiB to the byte.</summary>
    internal static string Gibibytes(long bytes) => ((bytes >> 20) / 1024.0).ToString("R", CultureInfo.InvariantCulture);
}
