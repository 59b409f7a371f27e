using KvmHost.Core.Platform;

namespace KvmHost.Core.Packages;

public sealed record InstallOptions
{
    /// <summary>Repositories to enable for this run only (yum/dnf --enablerepo), e.g. a disabled vendor repo.</summary>
    public IReadOnlyList<string> EnableRepositories { get; init; } = [];

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>What a run would do: the packages as found, the missing ones, and the exact commands.</summary>
public sealed record InstallPlan(
    IReadOnlyList<string> Names,
    IReadOnlyList<KvmPackage> Before,
    IReadOnlyList<string> Missing,
    CommandRequest? EnableModule,
    CommandRequest? Install)
{
    /// <summary>The command lines a run starts, in order; empty when everything is installed.</summary>
    public string[] Steps => new[] { EnableModule, Install }.Where(r => r is not null).Select(r => r!.CommandLine).ToArray();
}

/// <summary>What a run did. When <see cref="Failure"/> is set, Packages still say what is installed now.</summary>
public sealed record InstallOutcome(
    IReadOnlyList<KvmPackageResult> Packages,
    IReadOnlyList<string> Transaction,
    IReadOnlyList<string> Notes,
    KvmHostException? Failure);

/// <summary>
/// Query first, install only what is missing, in one transaction, then query again for the truth.
/// Works on the running host or, for image preparation, on another root (dnf/yum --installroot).
/// </summary>
public sealed class PackageInstaller
{
    /// <summary>
    /// Packages whose installation dnf's needs-restarting -r (dnf-plugins-core, NEED_REBOOT) answers with
    /// "reboot is required"; yum and dnf print nothing of the kind themselves.
    /// </summary>
    private static readonly HashSet<string> NeedReboot = new(StringComparer.Ordinal)
        { "kernel", "kernel-core", "kernel-rt", "glibc", "linux-firmware", "systemd", "dbus", "dbus-broker", "dbus-daemon", "microcode_ctl" };

    /// <summary>Packages that bring the libvirt daemon: installed, it still has to be started and enabled.</summary>
    private static readonly HashSet<string> LibvirtDaemonPackages = new(StringComparer.Ordinal)
        { "libvirt", "libvirt-daemon", "libvirt-daemon-kvm", "libvirt-daemon-system", "libvirt-daemon-driver-qemu" };

    private const string InstallTimeoutHint =
        "Give the package manager longer with -TimeoutSec (a slow mirror, many packages), or check what it waits for (another package manager's lock).";

    private readonly HostSystem _host;
    private readonly HostRoot _root;
    private readonly ICommandRunner _runner;
    private readonly ReleaseProfile _release;

    public PackageInstaller(HostSystem host, ReleaseProfile release)
    {
        _host = host;
        _root = host.Root;
        _runner = host.Runner;
        _release = release;
    }

    public string PackageManager => _release.PackageManager switch
    {
        PackageManagerKind.Yum => "yum",
        PackageManagerKind.Dnf => "dnf",
        _ => "apt-get",
    };

    /// <summary>The read side: one database query, no package manager run.</summary>
    public IReadOnlyList<KvmPackage> Query(IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var installed = QueryInstalled(names, cancellationToken);
        return names.Select(name => new KvmPackage
        {
            Name = name,
            Version = installed.GetValueOrDefault(name),
            Status = installed.ContainsKey(name) ? PackageStatus.AlreadyInstalled : PackageStatus.Missing,
            PackageManager = PackageManager,
            Root = _root.Path,
        }).ToList();
    }

    /// <summary>
    /// The results of a run that starts nothing: under -WhatIf (or a declined -Confirm) every package as it
    /// is now, each missing one with the commands that would install it; or, with nothing missing, the set as
    /// it is. Nothing is run here.
    /// </summary>
    public static IReadOnlyList<KvmPackageResult> Preview(InstallPlan plan, bool whatIf) =>
        plan.Before.Select(package => new KvmPackageResult
        {
            Name = package.Name,
            Version = package.Version,
            Status = package.Status,
            PackageManager = package.PackageManager,
            Root = package.Root,
            WhatIf = whatIf,
            PlannedChanges = package.IsInstalled ? [] : plan.Steps,
        }).ToList();

    /// <summary>Queries and decides; runs nothing that changes the system.</summary>
    public InstallPlan Plan(IReadOnlyList<string> names, InstallOptions options, CancellationToken cancellationToken)
    {
        foreach (string repository in options.EnableRepositories) ValidateRepositoryId(repository);
        if (_release.PackageManager == PackageManagerKind.Apt && _host.Running is null)
            throw new KvmHostException(ErrorIds.PackageRootUnsupported, FailureKind.NotImplemented,
                $"apt-get cannot install into another root ({_root.Path}); nothing was run.", _root.Path,
                "Install into a Debian or Ubuntu image from inside it (chroot, systemd-nspawn), or build it with debootstrap/mmdebstrap --include.");
        if (_release.PackageManager == PackageManagerKind.Apt && options.EnableRepositories.Count > 0)
            throw new KvmHostException(ErrorIds.PackageOptionUnsupported, FailureKind.InvalidArgument,
                "-EnableRepository applies to yum and dnf only; apt-get has no per-run repository switch.", options.EnableRepositories[0],
                "Add the repository to /etc/apt/sources.list.d and run apt-get update first.");

        var before = Query(names, cancellationToken);
        var missing = before.Where(p => !p.IsInstalled).Select(p => p.Name).ToList();
        if (missing.Count == 0) return new InstallPlan(names, before, missing, null, null);

        CommandRequest? module = _release.DnfModule is { } stream && _release.PackageManager == PackageManagerKind.Dnf
            ? PackageManagerRequest(options, ["module", "enable", stream]) with { Timeout = options.Timeout, TimeoutHint = InstallTimeoutHint }
            : null;
        var install = PackageManagerRequest(options, ["install", .. missing]) with { Timeout = options.Timeout, TimeoutHint = InstallTimeoutHint };
        return new InstallPlan(names, before, missing, module, install);
    }

    /// <summary>Runs the plan's commands and queries again. Needs root: rpm chroots even into another root.</summary>
    public InstallOutcome Install(InstallPlan plan, Action<TransactionStep>? progress, CancellationToken cancellationToken)
    {
        if (plan.Install is null)
            return new InstallOutcome(Preview(plan, whatIf: false), [], [], null);
        RequireRoot(plan);

        var notes = new List<string>();
        if (plan.EnableModule is not null)
        {
            var enabled = _runner.Run(plan.EnableModule, cancellationToken);
            // Only RHEL 8's own repositories carry the virt module; a mirror or local repository without
            // module metadata serves the same packages without it, so its absence is not an error.
            if (PackageManagerOutput.IsModuleMissing(enabled))
                notes.Add($"No enabled repository offers the '{_release.DnfModule}' module stream; installing the packages without it.");
            else if (!enabled.Succeeded)
                return Finish(plan, [], notes, PackageManagerOutput.Classify(enabled, plan.Missing), cancellationToken);
        }

        var request = plan.Install with
        {
            OnOutputLine = line =>
            {
                if (progress is not null && PackageManagerOutput.ParseStep(line) is { } step) progress(step);
            },
        };
        var result = _runner.Run(request, cancellationToken);
        var transaction = PackageManagerOutput.TransactionPackages(result.StandardOutput);
        var failure = result.Succeeded ? null : PackageManagerOutput.Classify(result, plan.Missing);
        var outcome = Finish(plan, transaction, notes, failure, cancellationToken);
        return KilledBySignal(result) is int signal ? outcome with { Failure = Interrupted(plan, outcome, signal) } : outcome;
    }

    /// <summary>The shell's convention (128 + n), which the runner's exit code follows for a process killed by signal n.</summary>
    private static int? KilledBySignal(CommandResult result) => result.ExitCode is > 128 and <= 128 + 64 ? result.ExitCode - 128 : null;

    /// <summary>A package manager killed mid-transaction may have left some packages in: say which, from the database.</summary>
    private KvmHostException Interrupted(InstallPlan plan, InstallOutcome outcome, int signal)
    {
        var nowInstalled = outcome.Packages.Where(p => plan.Missing.Contains(p.Name) && p.IsInstalled).Select(p => p.Name).ToList();
        var stillMissing = outcome.Packages.Where(p => !p.IsInstalled).Select(p => p.Name).ToList();
        string state = nowInstalled.Count == 0
            ? "none of the missing packages is installed"
            : $"installed now: {string.Join(", ", nowInstalled)}; still missing: {(stillMissing.Count == 0 ? "none" : string.Join(", ", stillMissing))}";
        string repair = _release.PackageManager switch
        {
            PackageManagerKind.Apt => "dpkg --configure -a",
            PackageManagerKind.Yum => "yum-complete-transaction (yum-utils), then yum check",
            _ => "dnf history info last, then dnf check",
        };
        return new KvmHostException(ErrorIds.PackageInstallFailed, FailureKind.InvalidOperation,
            $"{PackageManager} was killed (signal {signal}) in the middle of the transaction; the package database says {state}.",
            plan.Install!.CommandLine, $"Inspect the interrupted transaction ({repair}), then run the command again: it installs only what is still missing.",
            outcome.Failure);
    }

    /// <summary>Installing needs root, into another root as well: rpm chroots into it.</summary>
    public void RequireRoot(InstallPlan plan)
    {
        if (Privileges.IsRoot) return;
        throw new KvmHostException(ErrorIds.NotRoot, FailureKind.PermissionDenied,
            $"Installing {string.Join(", ", plan.Missing)} needs root privileges; nothing was changed.", PackageManager,
            "Run pwsh as root (sudo pwsh); Get-KvmPackages and -WhatIf show what is missing without root.");
    }

    private InstallOutcome Finish(InstallPlan plan, IReadOnlyList<string> transaction, List<string> notes,
        KvmHostException? failure, CancellationToken cancellationToken)
    {
        var installed = QueryInstalled(plan.Names, cancellationToken);
        var before = plan.Before.ToDictionary(p => p.Name, p => p.IsInstalled, StringComparer.Ordinal);
        var packages = plan.Names.Select(name => Describe(name, installed, before[name], transaction, plan.Steps)).ToList();
        // yum 3 without skip_missing_names_on_install, or a package manager that exits 0 after skipping
        // something: what the database says decides, not the exit code.
        if (failure is null && packages.FirstOrDefault(p => p.Status == PackageStatus.Failed) is { } absent)
            failure = new KvmHostException(ErrorIds.PackageInstallFailed, FailureKind.InvalidOperation,
                $"{PackageManager} finished, but {absent.Name} is still not installed.", absent.Name,
                $"Run '{plan.Install!.CommandLine}' by hand and read what it says about {absent.Name}.");
        return new InstallOutcome(packages, transaction, notes, failure);
    }

    private KvmPackageResult Describe(string name, IReadOnlyDictionary<string, string> installed, bool wasInstalled,
        IReadOnlyList<string> transaction, string[] steps)
    {
        bool isInstalled = installed.TryGetValue(name, out string? version);
        var status = (wasInstalled, isInstalled) switch
        {
            (true, _) => PackageStatus.AlreadyInstalled,
            (false, true) => PackageStatus.Installed,
            (false, false) => PackageStatus.Failed,
        };
        bool changed = status == PackageStatus.Installed;
        return new KvmPackageResult
        {
            Name = name,
            Version = version,
            Status = status,
            Changed = changed,
            PlannedChanges = wasInstalled ? [] : steps,
            PackageManager = PackageManager,
            Root = _root.Path,
            RebootAdvised = changed && transaction.Any(NeedReboot.Contains),
            FollowUp = changed && LibvirtDaemonPackages.Contains(name)
                ? (_host.Running is null ? "Enable libvirt: Enable-Libvirtd -Root" : "Start libvirt: Enable-Libvirtd")
                : null,
        };
    }

    private IReadOnlyDictionary<string, string> QueryInstalled(IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        if (_release.PackageManager == PackageManagerKind.Apt)
            return PackageQuery.ParseDpkg(_runner.Run(PackageQuery.DpkgRequest(_host, names), cancellationToken));
        if (_host.Running is null)
        {
            // The host's rpm decides the database path for the root too (so does the host's dnf). A RHEL 8
            // image read from a RHEL 9+ host has /var/lib/rpm while the host looks in /usr/lib/sysimage/rpm:
            // it then looks empty here, exactly as it does to rpm and dnf on that host.
            string databasePath = _runner.Run(PackageQuery.RpmDatabasePathRequest(), cancellationToken)
                .EnsureSuccess("rpm cannot tell where its database is; check rpm's macros.").StandardOutput.Trim();
            if (!PackageQuery.HasRpmDatabase(_root, databasePath)) return new Dictionary<string, string>();
        }
        return PackageQuery.ParseRpm(_runner.Run(PackageQuery.RpmRequest(_host, names), cancellationToken));
    }

    private CommandRequest PackageManagerRequest(InstallOptions options, IReadOnlyList<string> command)
    {
        if (_release.PackageManager == PackageManagerKind.Apt)
        {
            // Lock::Timeout=0: fail at once on a held lock instead of waiting; the error names the holder.
            return new CommandRequest("apt-get", ["-y", "-o", "DPkg::Lock::Timeout=0", .. command])
            {
                Environment = new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" },
                InterruptGracePeriod = TimeSpan.FromSeconds(30),
            };
        }
        var arguments = new List<string> { "-y" };
        if (_host.Running is null)
        {
            // dnf looks for repositories inside the installroot first but falls back to the host's when the
            // root has none (dnf.conf(5), --installroot); naming the root's directory keeps an image from
            // being filled from the build host's repositories. releasever cannot be read from an empty
            // root's rpm database, so it comes from the root's os-release.
            arguments.Add("--installroot=" + _root.Path);
            arguments.Add("--setopt=reposdir=" + _root.Resolve("/etc/yum.repos.d"));
            arguments.Add("--releasever=" + ReleaseVersion());
        }
        // Fail at once when another yum/dnf holds the lock; both would otherwise wait for it forever.
        arguments.Add("--setopt=exit_on_lock=True");
        // yum 3 installs what it finds and skips unknown names; dnf refuses the whole transaction. Make yum
        // refuse too (RHEL 7.5+), so a typo never leaves a half-installed set.
        if (_release.PackageManager == PackageManagerKind.Yum) arguments.Add("--setopt=skip_missing_names_on_install=False");
        arguments.AddRange(options.EnableRepositories.Select(r => "--enablerepo=" + r));
        arguments.AddRange(command);
        // SIGINT lets rpm finish the package it is writing and dnf release its locks; a kill could leave
        // a half-written package behind.
        return new CommandRequest(PackageManager, arguments) { InterruptGracePeriod = TimeSpan.FromSeconds(30) };
    }

    /// <summary>
    /// $releasever as the release's own redhat-release package would provide it: the major version, and for
    /// RHEL 7 the variant as well ("7Server"), which Red Hat's CDN paths use.
    /// </summary>
    internal string ReleaseVersion()
    {
        if (_release.Family == DistroFamily.Fedora) return _release.VersionId;
        string major = _release.MajorVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_release.Id == "rhel" && _release.MajorVersion == 7
            && _root.TryReadText("/etc/os-release", 64 * 1024) is { } text
            && OsRelease.Parse(text).Get("VARIANT") is { Length: > 0 } variant && !variant.Contains(' '))
            return major + variant;
        return major;
    }

    private static void ValidateRepositoryId(string repository)
    {
        if (System.Text.RegularExpressions.Regex.IsMatch(repository, @"^[A-Za-z0-9_.:*-]{1,200}\z") && !repository.StartsWith('-')) return;
        throw new KvmHostException(ErrorIds.PackageNameInvalid, FailureKind.InvalidArgument,
            $"'{repository}' is not a valid repository id; nothing was run.", repository,
            "Repository ids contain letters, digits and . _ - : * (see 'dnf repolist --all').");
    }
}
