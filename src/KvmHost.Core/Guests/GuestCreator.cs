using System.Text.Json;
using System.Xml;
using KvmHost.Core.Bridge;
using KvmHost.Core.Cpu;
using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>A checked request, ready for virt-install: the variant and domain type decided, the command built.</summary>
public sealed record GuestCreationPlan
{
    public required NewGuestRequest Request { get; init; }

    /// <summary>What --os-variant gets: a short id, or detect=on,require=on for install media.</summary>
    public required string OsVariant { get; init; }

    public required AccelerationChoice Acceleration { get; init; }

    /// <summary>The UUID the guest is created with, so that a rollback only ever removes the guest this run made.</summary>
    public required Guid Uuid { get; init; }

    public required string Uri { get; init; }
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>What the admin should know before the run (TCG, more vCPUs than host CPUs).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Why a real run would stop now (libvirt does not answer; a piped bridge that is not on this host yet). Only a preview plans past these.</summary>
    public IReadOnlyList<string> Blockers { get; init; } = [];

    /// <summary>What the plan could not check because libvirt did not answer: a real run checks each before anything is made.</summary>
    public IReadOnlyList<string> Unchecked { get; init; } = [];

    /// <summary>The steps of a real run in words, in order (PlannedChanges of a preview).</summary>
    public IReadOnlyList<string> Steps { get; init; } = [];

    /// <summary>The command as it would be typed into a shell.</summary>
    public string CommandLine => new CommandRequest(VirtInstallCommand.Program, Arguments).CommandLine;
}

/// <summary>
/// Creates guests with virt-install, the way an admin would, but checked first and undone when it does not finish:
/// <see cref="Plan"/> refuses what would fail or surprise (a name in use, memory the host does not have, a file,
/// network, pool, bridge or OS variant that is not there, KVM that cannot run an ordinary guest) before anything
/// is created; <see cref="Preview"/> asks virt-install for the domain XML with --print-xml --dry-run (without
/// --dry-run it would allocate the disk); <see cref="Create"/> runs it through the process runner and returns a
/// <see cref="GuestCreation"/> whose RollBack removes what the run made (the guest with its UUID, the volumes that
/// appeared in its pool under its name) after a failure or Ctrl+C. Storage pools virt-install makes for the folders
/// of the files it is given are removed again (the files stay), so an imported disk does not become a pool volume
/// that Remove-KvmGuest -DeleteStorage would delete.
/// </summary>
public sealed class GuestCreator
{
    /// <summary>Where virt-install keeps the files it makes for an install (cloud-init ISO, fetched kernels) when it runs as root.</summary>
    public const string ScratchFolder = "/var/lib/libvirt/boot";

    private const string DefaultPool = "default";
    private const string DetectOsVariant = "detect=on,require=on";
    private const int MaxProcessors = 4096;

    private readonly LibvirtConnection? _connection;
    private readonly string _uri;
    private readonly KvmHostException? _unreachable;
    private readonly ICommandRunner _runner;
    private readonly HostSystem _localHost;
    private readonly HostRoot _localRoot;
    private readonly bool _local;
    private readonly Action<string>? _log;

    /// <param name="localHost">This machine (its files, its osinfo-db and its CPU); a scratch root in tests.</param>
    /// <param name="local">Whether libvirt runs on this machine, so paths and bridges can be checked here; default: from the URI.</param>
    public GuestCreator(LibvirtConnection connection, ICommandRunner runner, HostSystem localHost, bool? local = null, Action<string>? log = null)
        : this(connection, connection.Uri, null, runner, localHost, local, log)
    {
    }

    private GuestCreator(LibvirtConnection? connection, string uri, KvmHostException? unreachable, ICommandRunner runner, HostSystem localHost, bool? local, Action<string>? log)
    {
        _connection = connection;
        _uri = uri;
        _unreachable = unreachable;
        _runner = runner;
        _localHost = localHost;
        _localRoot = localHost.Root;
        _local = local ?? LibvirtUri.IsLocal(uri);
        _log = log;
    }

    /// <summary>
    /// A creator for a preview where libvirt does not answer yet (a fresh host whose daemon Enable-Libvirtd has only
    /// previewed): <see cref="Plan"/> checks what this machine can tell (the request, its files, osinfo-db, memory and
    /// CPU, the bridge), names what only libvirt could tell in <see cref="GuestCreationPlan.Unchecked"/> and the
    /// reason in <see cref="GuestCreationPlan.Blockers"/>. It can neither preview the XML nor create.
    /// </summary>
    public static GuestCreator WithoutLibvirt(string uri, KvmHostException unreachable, ICommandRunner runner, HostSystem localHost, bool? local = null, Action<string>? log = null)
    {
        if (!CanPlanWithout(unreachable))
            throw new ArgumentException($"{unreachable.ErrorId} is not a reason to plan without libvirt.", nameof(unreachable));
        return new GuestCreator(null, uri, unreachable, runner, localHost, local, log);
    }

    /// <summary>The connection failures a preview plans past: no daemon answering, no client library yet, no access. A bad URI is not one.</summary>
    public static bool CanPlanWithout(KvmHostException failure) =>
        failure.ErrorId is ErrorIds.LibvirtNotReachable or ErrorIds.LibvirtNotInstalled or ErrorIds.LibvirtAccessDenied;

    private LibvirtConnection Connection => _connection ?? throw new InvalidOperationException("This creator plans without libvirt; it cannot preview or create.");

    // ---- checking ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Checks everything it can before anything is created; throws the first problem with its own id. Without libvirt
    /// (<see cref="WithoutLibvirt"/>) what only libvirt knows is listed as unchecked instead.
    /// </summary>
    /// <param name="bridgeElsewhere">
    /// For a preview only: where the piped bridge is when it is not on this host's running system yet (New-HostBridge
    /// -WhatIf previewed it; it is in an image). A bridge missing here is then a blocker, not GuestBridgeNotFound.
    /// </param>
    public GuestCreationPlan Plan(NewGuestRequest request, OsInfoDatabase? osInfo = null, string? bridgeElsewhere = null)
    {
        var warnings = new List<string>();
        var blockers = new List<string>();
        var notChecked = new List<string>();
        if (_unreachable is not null)
            blockers.Add($"{_unreachable.Message.TrimEnd('.')}. A real run stops there with {_unreachable.ErrorId}, before anything is made. {_unreachable.Hint}".TrimEnd());
        CheckArguments(request);
        string osVariant = ResolveOsVariant(request, osInfo ?? OsInfoDatabase.Load(_localRoot));

        // What the target libvirt knows: the name, the host's size, networks, pools; then the bridge and KVM.
        if (_connection is not null)
        {
            using (var existing = _connection.TryLookupByName(request.Name))
                if (existing is not null)
                    throw new KvmHostException(ErrorIds.GuestExists, FailureKind.ResourceBusy,
                        $"A guest named '{request.Name}' already exists on {_uri}; nothing was changed.", request.Name,
                        "Choose another -Name, or remove the old guest first (Remove-KvmGuest).");
        }
        else
        {
            notChecked.Add($"whether a guest named '{request.Name}' exists already (a real run refuses it with GuestExists).");
        }
        KvmCpuSupport? verdict = _local ? KvmCpuProbe.Probe(_localHost) : null;
        var (hostMemory, hostCpus) = _connection is not null ? _connection.GetNodeInfo() : LocalNodeInfo(verdict);
        if (hostMemory is null) notChecked.Add($"-MemoryBytes against the memory of the host behind {_uri}.");
        if (request.MemoryBytes > hostMemory)
            throw new KvmHostException(ErrorIds.GuestMemoryInvalid, FailureKind.InvalidArgument,
                $"-MemoryBytes {Mib(request.MemoryBytes)} MiB is more than the host has ({Mib(hostMemory.Value)} MiB); nothing was created.",
                request.MemoryBytes, "Give the guest less memory than the host has, leaving some for the host itself.");
        if (request.ProcessorCount > hostCpus)
            warnings.Add($"Guest '{request.Name}' gets {request.ProcessorCount} vCPUs, more than the {hostCpus} logical CPUs of its host: they will compete for them.");
        if (_connection is not null)
        {
            CheckNetwork(request);
            CheckPool(request);
        }
        else
        {
            if (request.Bridge is null && request.Network != NewGuestRequest.NoNetwork)
                notChecked.Add($"the libvirt network '{request.Network ?? NewGuestRequest.DefaultNetwork}' (a real run refuses a missing or stopped one with GuestNetworkUnavailable).");
            if (request.NewDiskBytes is not null)
                notChecked.Add(request.StoragePool is null
                    ? $"the storage pool '{DefaultPool}' for the new disk (virt-install makes it at /var/lib/libvirt/images when it is missing)."
                    : $"the storage pool '{request.StoragePool}' for the new disk (a real run refuses a missing or stopped one with StoragePoolUnavailable).");
        }
        CheckBridge(request, bridgeElsewhere, blockers);

        HypervisorCapabilities? capabilities = null;
        if (_connection is not null)
        {
            capabilities = HypervisorCapabilities.Parse(_connection.GetCapabilities());
            if (!_local && capabilities.HostCpuXml is { } cpu && _connection.ExpandCpuFeatures(cpu) is { } expanded)
                capabilities = capabilities with { HostCpuFeatures = expanded.Union(capabilities.HostCpuFeatures).ToHashSet(StringComparer.Ordinal) };
        }
        else
        {
            notChecked.Add(verdict is null
                ? $"whether the host behind {_uri} can run KVM guests: the command assumes it can (--virt-type kvm); a real run asks libvirt and refuses or emulates as it would here."
                : $"whether libvirt at {_uri} offers KVM guests (its capabilities): the command follows Test-KvmCpuSupport's verdict for this machine.");
        }
        var acceleration = GuestAcceleration.Decide(request.Name, _uri, verdict, capabilities, request.AllowEmulation);
        if (acceleration.Warning is not null) warnings.Add(acceleration.Warning);

        var uuid = Guid.NewGuid();
        var arguments = VirtInstallCommand.Arguments(request, _uri, osVariant, acceleration.VirtType, preview: false).ToList();
        arguments.InsertRange(4, ["--uuid", uuid.ToString()]);
        var plan = new GuestCreationPlan
        {
            Request = request, OsVariant = osVariant, Acceleration = acceleration, Uuid = uuid, Uri = _uri,
            Arguments = arguments, Warnings = warnings, Blockers = blockers, Unchecked = notChecked,
        };
        return plan with { Steps = StepsOf(plan) };
    }

    /// <summary>This machine's memory (/proc/meminfo, what libvirt's node info reports for it) and logical CPUs; null where unknown or remote.</summary>
    private (long? MemoryBytes, int? Cpus) LocalNodeInfo(KvmCpuSupport? verdict)
    {
        if (!_local) return (null, null);
        long? memory = null;
        foreach (string line in (_localRoot.TryReadText("/proc/meminfo", 1 << 20) ?? string.Empty).Split('\n'))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["MemTotal:", var kib, "kB"] && long.TryParse(kib, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value))
                memory = value * 1024;
        }
        return (memory, verdict?.LogicalProcessorCount is > 0 and var cpus ? cpus : null);
    }

    /// <summary>What a real run does, step by step, for a preview's PlannedChanges.</summary>
    private static IReadOnlyList<string> StepsOf(GuestCreationPlan plan)
    {
        var r = plan.Request;
        var steps = new List<string>();
        if (r.NewDiskBytes is { } size)
            steps.Add($"Allocate a new {SizeText(size)} qcow2 volume in storage pool '{r.StoragePool ?? DefaultPool}' (virt-install names it {r.Name}.qcow2)"
                + (r.Source == GuestInstallSource.CloudImage ? $", backed by {r.CloudImage}" : string.Empty));
        steps.Add($"Define guest '{r.Name}' (UUID {plan.Uuid}, {plan.Acceleration.VirtType}) on {plan.Uri}: {plan.CommandLine}");
        if (r.Autostart) steps.Add($"Start '{r.Name}' whenever its libvirt daemon starts (autostart)");
        steps.Add(r.NoStart ? $"Leave '{r.Name}' shut off (-NoStart)" : r.Source switch
        {
            GuestInstallSource.IsoPath or GuestInstallSource.Location => $"Boot '{r.Name}' into its installer and wait until it runs",
            GuestInstallSource.CloudImage => $"Boot '{r.Name}' with its cloud-init data and wait until it runs",
            _ => $"Start '{r.Name}' and wait until it runs",
        });
        var folders = r.InputFiles().Select(f => Path.GetDirectoryName(f.Path)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (folders.Count > 0)
            steps.Add($"Remove the storage pools virt-install makes just to look at {string.Join(", ", folders)} (the folders and files stay)");
        return steps;
    }

    private void CheckArguments(NewGuestRequest r)
    {
        GuestName.Validate(r.Name);
        if (r.Bridge is not null && r.Network is not null)
            throw Conflict("-Bridge and -Network both name where the guest's network adapter goes; give one.", "New-KvmGuest -Bridge br0, or -Network default.");
        if (r.NoStart && r.Source is not (GuestInstallSource.ImportDisk or GuestInstallSource.Kernel))
            throw Conflict($"-NoStart works only without an install phase (-ImportDisk, -Kernel): a guest from {r.Source} must boot to install or to run cloud-init.",
                "Leave out -NoStart; Stop-KvmGuest stops the guest once it is installed.");
        if (r.Source == GuestInstallSource.CloudImage && (r.UserData is null) == (r.SshPublicKey is null))
            throw Conflict("-CloudImage needs exactly one of -SshPublicKey (the key of the image's default user) and -UserData (your own cloud-config, which virt-install passes as it is).",
                "Put the key into your user-data's ssh_authorized_keys, or use -SshPublicKey alone.");
        if (r.KernelArguments is not null && r.Source is not (GuestInstallSource.Kernel or GuestInstallSource.Location))
            throw Conflict("-KernelArguments reach a kernel only when it is booted directly (-Kernel) or from an install tree (-Location); virt-install ignores them with an ISO.",
                "Use -Location with the install tree or ISO instead of -IsoPath.");
        if (r.MemoryBytes <= 0 || r.MemoryBytes % (1 << 20) != 0)
            throw new KvmHostException(ErrorIds.GuestMemoryInvalid, FailureKind.InvalidArgument,
                $"-MemoryBytes {r.MemoryBytes} is not a whole, positive number of MiB; nothing was created.", r.MemoryBytes,
                "Give the memory with PowerShell's units, for example 512MB, 2GB or 1.5GB.");
        if (r.ProcessorCount is < 1 or > MaxProcessors)
            throw new KvmHostException(ErrorIds.GuestProcessorCountInvalid, FailureKind.InvalidArgument,
                $"-ProcessorCount {r.ProcessorCount} is not between 1 and {MaxProcessors}; nothing was created.", r.ProcessorCount, "Give 1 or more vCPUs.");
        if (r.DiskSizeBytes is { } disk && (disk <= 0 || disk % (1 << 20) != 0))
            throw new KvmHostException(ErrorIds.GuestDiskSizeInvalid, FailureKind.InvalidArgument,
                $"-DiskSizeBytes {disk} is not a whole, positive number of MiB; nothing was created.", disk, "Give the size with PowerShell's units, for example 20GB.");
        if (r.Description is not null) GuestDescription.Validate(r.Description);
        if (r.StoragePool is not null) CheckLibvirtName(r.StoragePool, "StoragePool", ErrorIds.StoragePoolUnavailable);
        if (r.Network is not null && r.Network != NewGuestRequest.NoNetwork) CheckLibvirtName(r.Network, "Network", ErrorIds.GuestNetworkUnavailable);
        if (r.Bridge is not null) InterfaceName.Validate(r.Bridge, "Bridge");

        foreach (var (parameter, path) in r.InputFiles())
        {
            if (!path.StartsWith('/'))
                throw new KvmHostException(ErrorIds.PathNotAbsolute, FailureKind.InvalidArgument,
                    $"-{parameter} '{path}' is not an absolute path.", path, "Give the full path of the file.");
            // A path on another host is that host's libvirt's to check (virt-install asks it through its storage pools).
            bool there = !_local || _localRoot.FileExists(path) || (parameter == "Location" && _localRoot.DirectoryExists(path));
            if (!there)
                throw new KvmHostException(ErrorIds.GuestMediaNotFound, FailureKind.ObjectNotFound,
                    $"-{parameter} '{path}' does not exist on this host; nothing was created.", path, $"Check the path given to -{parameter}.");
        }
        // virt-install reads these two itself, on this machine, whatever the URI.
        if (r.UserData is not null) ReadLocalFile("UserData", r.UserData);
        if (r.SshPublicKey is not null) CheckPublicKey(r.SshPublicKey, ReadLocalFile("SshPublicKey", r.SshPublicKey));
    }

    private string ReadLocalFile(string parameter, string path)
    {
        if (!path.StartsWith('/'))
            throw new KvmHostException(ErrorIds.PathNotAbsolute, FailureKind.InvalidArgument, $"-{parameter} '{path}' is not an absolute path.", path, "Give the full path of the file.");
        return _localRoot.TryReadText(path, 1024 * 1024) ?? throw new KvmHostException(ErrorIds.GuestMediaNotFound, FailureKind.ObjectNotFound,
            $"-{parameter} '{path}' does not exist; nothing was created.", path, $"Check the path given to -{parameter}.");
    }

    /// <summary>
    /// An OpenSSH public key file: every line a key of a known type. A private key is refused: virt-install would copy it
    /// verbatim into the guest's user-data, readable by anyone who can read the guest's cloud-init ISO or metadata.
    /// </summary>
    internal static void CheckPublicKey(string path, string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? problem = text.Contains("PRIVATE KEY", StringComparison.Ordinal) ? "it is a PRIVATE key, which must never leave this machine"
            : lines.Length == 0 ? "it is empty"
            : lines.FirstOrDefault(l => !IsPublicKeyLine(l)) is { } bad ? $"'{(bad.Length > 40 ? bad[..40] + "..." : bad)}' is not an OpenSSH public key line"
            : null;
        if (problem is not null)
            throw new KvmHostException(ErrorIds.GuestSshKeyInvalid, FailureKind.InvalidArgument,
                $"-SshPublicKey '{path}' cannot be used: {problem}. Nothing was created.", path,
                "Give the .pub file (for example ~/.ssh/id_ed25519.pub); ssh-keygen -y -f KEY prints a private key's public half.");
    }

    private static bool IsPublicKeyLine(string line) =>
        line.StartsWith('#') || new[] { "ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-nistp", "sk-ssh-ed25519@openssh.com ", "sk-ecdsa-sha2-nistp256@openssh.com ", "ssh-dss " }
            .Any(prefix => line.StartsWith(prefix, StringComparison.Ordinal));

    private string ResolveOsVariant(NewGuestRequest r, OsInfoDatabase database)
    {
        if (r.OsVariant is not null)
        {
            if (r.OsVariant.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is ',' or '='))
                throw new KvmHostException(ErrorIds.GuestOsVariantUnknown, FailureKind.InvalidArgument,
                    $"'{r.OsVariant.ReplaceLineEndings("?")}' is not an OS variant name; nothing was created.", r.OsVariant,
                    "Give a libosinfo short id such as rhel9.4 or debian12 (tab completion lists them).");
            return database.Require(r.OsVariant).ShortId;
        }
        if (r.Source is GuestInstallSource.IsoPath or GuestInstallSource.Location)
        {
            _log?.Invoke("New-KvmGuest: no -OsVariant: virt-install detects the OS from the install media (and stops if it cannot).");
            return DetectOsVariant;
        }
        var generic = database.NewestGenericLinux() ?? throw new KvmHostException(ErrorIds.GuestOsVariantUnknown, FailureKind.InvalidArgument,
            $"Nothing tells virt-install what OS guest '{r.Name}' runs, and this host's libosinfo database has no generic Linux entry to fall back to.",
            r.Name, "Give -OsVariant (tab completion lists this host's variants), or update osinfo-db.");
        _log?.Invoke($"New-KvmGuest: no -OsVariant: using {generic.ShortId} ({generic.Name}), the newest generic Linux this host's libosinfo knows.");
        return generic.ShortId;
    }

    /// <summary>Without -Bridge, the adapter goes on a libvirt network: -Network, else "default" (as virt-install does); "none" means no adapter.</summary>
    private void CheckNetwork(NewGuestRequest r)
    {
        if (r.Bridge is not null || r.Network == NewGuestRequest.NoNetwork) return;
        string network = r.Network ?? NewGuestRequest.DefaultNetwork;
        bool? active = Connection.NetworkIsActive(network);
        if (active == true) return;
        string which = r.Network is null ? $"Without -Bridge or -Network the guest goes on libvirt's '{network}' network, but " : string.Empty;
        throw new KvmHostException(ErrorIds.GuestNetworkUnavailable, FailureKind.ObjectNotFound,
            which + (active is null ? $"libvirt at {_uri} has no network named '{network}'; nothing was created."
                : $"the libvirt network '{network}' is not active, so a guest on it cannot start; nothing was created."), network,
            active is null ? "Put the guest on a host bridge with -Bridge (New-HostBridge makes one), name a network from virsh net-list --all, or give -Network none for no network adapter."
                : $"Start it first: virsh net-start {network} (and net-autostart); or use -Bridge.");
    }

    private void CheckPool(NewGuestRequest r)
    {
        if (r.StoragePool is null || r.NewDiskBytes is null) return;
        var pool = Connection.GetStoragePool(r.StoragePool);
        if (pool is { Active: true }) return;
        throw new KvmHostException(ErrorIds.StoragePoolUnavailable, FailureKind.ObjectNotFound,
            pool is null ? $"libvirt at {_uri} has no storage pool named '{r.StoragePool}'; nothing was created."
                : $"The storage pool '{r.StoragePool}' is not active; nothing was created.", r.StoragePool,
            pool is null ? "virsh pool-list --all lists the pools; leave -StoragePool out for the default pool." : $"Start it first: virsh pool-start {r.StoragePool}.");
    }

    /// <summary>
    /// The bridge must exist where QEMU will plug the guest in. On this machine that is checked with iproute2 (in the
    /// caller's network namespace, which is libvirt's for a local URI); another host's libvirt checks when the guest starts.
    /// </summary>
    private void CheckBridge(NewGuestRequest r, string? elsewhere, List<string> blockers)
    {
        if (r.Bridge is null) return;
        if (!_local)
        {
            _log?.Invoke($"New-KvmGuest: bridge '{r.Bridge}' is on another host; libvirt there checks it when the guest starts.");
            return;
        }
        var result = _runner.Run(new CommandRequest("ip", "-j", "-d", "link", "show", "dev", r.Bridge) { Timeout = TimeSpan.FromSeconds(20) }, CancellationToken.None);
        string? kind = null;
        if (result.Succeeded)
        {
            try
            {
                using var json = JsonDocument.Parse(result.StandardOutput);
                foreach (var link in json.RootElement.EnumerateArray())
                    if (link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var k)) kind = k.GetString();
            }
            catch (JsonException e)
            {
                throw new KvmHostException(ErrorIds.NetworkStateUnreadable, FailureKind.ReadError, $"Could not parse the output of 'ip -j link': {e.Message}", "ip",
                    "Install iproute2 4.14 or newer (JSON output).", e);
            }
        }
        if (kind == "bridge") return;
        if (elsewhere is not null && !result.Succeeded)
        {
            blockers.Add($"There is no bridge '{r.Bridge}' on this host yet: {elsewhere}. A real run is refused with GuestBridgeNotFound until it is there.");
            return;
        }
        throw new KvmHostException(ErrorIds.GuestBridgeNotFound, FailureKind.ObjectNotFound,
            result.Succeeded ? $"'{r.Bridge}' is a {kind ?? "plain"} interface, not a Linux bridge; nothing was created."
                : $"There is no interface named '{r.Bridge}' on this host; nothing was created.", r.Bridge,
            "New-HostBridge creates the bridge (pipe it into New-KvmGuest); Get-HostBridge lists the bridges.");
    }

    private static void CheckLibvirtName(string name, string parameter, string errorId)
    {
        if (name.Length > 0 && name.Length <= 200 && !name.Any(c => char.IsControl(c) || c is '/' or '\\' or '"' or '\'' or '<' or '>' or '&') && !name.StartsWith('-')) return;
        throw new KvmHostException(errorId, FailureKind.InvalidArgument,
            $"'{name.ReplaceLineEndings("?")}' is not a usable -{parameter} name; nothing was created.", name,
            $"Give the name virsh {(parameter == "Network" ? "net-list" : "pool-list")} shows.");
    }

    private static KvmHostException Conflict(string message, string hint) =>
        new(ErrorIds.GuestParametersConflict, FailureKind.InvalidArgument, message + " Nothing was created.", "New-KvmGuest", hint);

    private static long Mib(long bytes) => bytes >> 20;

    private static string SizeText(long bytes) => bytes % (1L << 30) == 0 ? $"{bytes >> 30} GiB" : $"{Mib(bytes)} MiB";

    // ---- previewing and creating ---------------------------------------------------------------------------------------

    /// <summary>The domain XML virt-install would define (two documents for an install: the install boot and the final guest).</summary>
    public string Preview(GuestCreationPlan plan, TimeSpan timeout, Action<string>? warning, CancellationToken cancellation)
    {
        _ = Connection; // virt-install opens libvirt even for --dry-run
        var arguments = plan.Arguments.Concat(["--print-xml", "--dry-run"]).ToList();
        var result = RunVirtInstall(arguments, timeout, null, warning, cancellation);
        if (!result.Succeeded) throw Failed(plan, result, created: false);
        return result.StandardOutput.Trim();
    }

    /// <summary>
    /// Runs virt-install. On failure or Ctrl+C what the run made is removed before the exception goes on; on success the
    /// returned creation can still be rolled back (the caller's wait for the guest may fail or be cancelled).
    /// </summary>
    public GuestCreation Create(GuestCreationPlan plan, TimeSpan timeout, Action<string>? progress, Action<string>? warning, CancellationToken cancellation)
    {
        var connection = Connection;
        var creation = new GuestCreation(connection, plan, connection.ListStoragePools(),
            connection.ListVolumeNames(plan.Request.StoragePool ?? DefaultPool), _log);
        try
        {
            var result = RunVirtInstall(plan.Arguments, timeout, progress, warning, cancellation);
            if (!result.Succeeded) throw Failed(plan, result, created: true);
            creation.ForgetNewPools();
            return creation;
        }
        catch
        {
            // Whatever ends the run early (a failure, Ctrl+C, the caller's pipeline stopping under a callback) undoes it.
            creation.RollBack();
            throw;
        }
    }

    private CommandResult RunVirtInstall(IReadOnlyList<string> arguments, TimeSpan timeout, Action<string>? progress, Action<string>? warning, CancellationToken cancellation)
    {
        CommandResult result;
        try
        {
            result = _runner.Run(new CommandRequest(VirtInstallCommand.Program, arguments)
            {
                Timeout = timeout,
                TimeoutHint = "An install from the network can take long: raise -TimeoutSec. Nothing of the guest was left behind.",
                // Ctrl+C reaches virt-install as SIGINT first: it deletes the disk it allocated and its temporary files itself.
                InterruptGracePeriod = TimeSpan.FromSeconds(10),
                OnOutputLine = line => { if (!string.IsNullOrWhiteSpace(line)) progress?.Invoke(line.Trim()); },
            }, cancellation);
        }
        catch (KvmHostException missing) when (missing.ErrorId == ErrorIds.CommandNotFound)
        {
            throw new KvmHostException(ErrorIds.VirtInstallNotInstalled, FailureKind.NotInstalled,
                "virt-install is not installed on this machine; New-KvmGuest creates guests with it.", VirtInstallCommand.Program,
                $"Install-KvmPackages installs it ({PackageOfVirtInstall()}).", missing);
        }
        foreach (string line in result.StandardError.Split('\n'))
            if (line.StartsWith("WARNING", StringComparison.Ordinal)) warning?.Invoke("virt-install: " + line["WARNING".Length..].Trim());
        return result;
    }

    private string PackageOfVirtInstall()
    {
        try
        {
            return ReleaseProfile.Detect(_localRoot).Family == DistroFamily.Debian ? "apt-get install virtinst" : "dnf install virt-install";
        }
        catch (KvmHostException)
        {
            return "virt-install on RHEL and Fedora, virtinst on Debian and Ubuntu";
        }
    }

    private static KvmHostException Failed(GuestCreationPlan plan, CommandResult result, bool created)
    {
        var errors = result.StandardError.Split('\n').Where(l => l.StartsWith("ERROR", StringComparison.Ordinal))
            .Select(l => l["ERROR".Length..].Trim()).ToList();
        string why = errors.Count > 0 ? string.Join(" ", errors) : result.Tail();
        return new KvmHostException(ErrorIds.GuestCreateFailed, FailureKind.InvalidOperation,
            $"virt-install could not create guest '{plan.Request.Name}' (exit code {result.ExitCode}): {why}"
            + (created ? " What it had made was removed." : string.Empty), plan.Request.Name,
            "virt-install's own log (~/.cache/virt-manager/virt-install.log) has the details; -Verbose shows the command line.");
    }
}

/// <summary>
/// One run of virt-install that can still be undone: what existed before it (storage pools, the volumes of the pool its
/// disk goes to), so that <see cref="RollBack"/> removes exactly what the run made, and <see cref="ForgetNewPools"/>
/// the pools virt-install made for the folders of the request's files.
/// </summary>
public sealed class GuestCreation
{
    private readonly LibvirtConnection _connection;
    private readonly HashSet<string> _poolsBefore;
    private readonly HashSet<string> _volumesBefore;
    private readonly Action<string>? _log;

    internal GuestCreation(LibvirtConnection connection, GuestCreationPlan plan, IEnumerable<StoragePoolRef> poolsBefore, HashSet<string> volumesBefore, Action<string>? log)
    {
        _connection = connection;
        Plan = plan;
        _poolsBefore = poolsBefore.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        _volumesBefore = volumesBefore;
        _log = log;
    }

    public GuestCreationPlan Plan { get; }

    public string Name => Plan.Request.Name;

    /// <summary>
    /// Removes the guest this run created (found by its UUID: a guest of the same name made by someone else is never
    /// touched) with its nvram and saved state, the volumes that appeared in its pool named after it, and the pools
    /// virt-install made. Never throws: each failure is logged, and the caller's own error is what the admin sees.
    /// </summary>
    public IReadOnlyList<string> RollBack()
    {
        var problems = new List<string>();
        void Try(string what, Action action)
        {
            try { action(); }
            catch (KvmHostException e) { problems.Add($"{what}: {e.Message}"); _log?.Invoke($"New-KvmGuest rollback: {what} failed: {e.Message}"); }
        }
        Try($"remove guest '{Name}'", () =>
        {
            using var domain = _connection.TryLookupByName(Name);
            if (domain is null || LibvirtConnection.UuidOf(domain) != Plan.Uuid) return;
            var (state, _) = _connection.GetState(domain);
            if (GuestStateReasons.IsActive(state)) _connection.Destroy(domain);
            if (!_connection.IsPersistent(domain)) return; // a transient guest went with its power
            // Only the flags this guest needs, as Remove-KvmGuest does: a driver may lack one it does not need.
            uint flags = (_connection.HasManagedSave(domain) ? UndefineManagedSave : 0)
                | (DiskReferences.IsUefi(_connection.GetXml(domain, inactive: true)) ? UndefineNvram : 0);
            _connection.Undefine(domain, flags);
        });
        string pool = Plan.Request.StoragePool ?? "default";
        Try($"list the volumes of pool '{pool}'", () =>
        {
            foreach (string volume in _connection.ListVolumeNames(pool).Except(_volumesBefore).Where(IsOwnVolume).Order(StringComparer.Ordinal))
                Try($"delete volume {pool}/{volume}", () =>
                {
                    if (_connection.FindVolume(pool, volume) is { } found) _connection.DeleteVolume(found);
                });
        });
        ForgetNewPools();
        return problems;
    }

    /// <summary>virt-install names a new disk NAME.qcow2, or NAME-1.qcow2 and so on when that is taken.</summary>
    private bool IsOwnVolume(string volume) =>
        volume.StartsWith(Name, StringComparison.Ordinal) && volume.Length > Name.Length && volume[Name.Length] is '.' or '-';

    /// <summary>
    /// Removes the definitions of the storage pools that appeared during the run for the folder of one of the request's
    /// files, or for virt-install's scratch folder: virt-install makes one per folder just to look at a file. The folders
    /// and files stay.
    /// </summary>
    public void ForgetNewPools()
    {
        var folders = Plan.Request.InputFiles().Select(f => Path.GetDirectoryName(f.Path)).OfType<string>()
            .Append(GuestCreator.ScratchFolder).Select(f => f.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        List<StoragePoolRef> pools;
        try
        {
            pools = _connection.ListStoragePools();
        }
        catch (KvmHostException e)
        {
            _log?.Invoke($"New-KvmGuest: cannot list storage pools to remove the ones virt-install made: {e.Message}");
            return;
        }
        foreach (var pool in pools.Where(p => !_poolsBefore.Contains(p.Name) && p.TargetPath is not null && folders.Contains(p.TargetPath.TrimEnd('/'))))
        {
            try
            {
                _connection.ForgetStoragePool(pool.Name);
            }
            catch (KvmHostException e)
            {
                _log?.Invoke($"New-KvmGuest: cannot remove the storage pool '{pool.Name}' virt-install made for {pool.TargetPath}: {e.Message}");
            }
        }
    }
}

/// <summary>A guest's description as libvirt stores it: text of an XML element, so only characters XML allows.</summary>
public static class GuestDescription
{
    public static void Validate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (XmlConvert.IsXmlChar(text[i])) continue;
            throw new KvmHostException(ErrorIds.GuestDescriptionInvalid, FailureKind.InvalidArgument,
                $"-Description contains a character XML cannot hold (U+{(int)text[i]:X4} at position {i}); nothing was changed.", text,
                "Leave out control characters other than tab and newline. <, >, & and quotes are fine: they are escaped.");
        }
    }
}
