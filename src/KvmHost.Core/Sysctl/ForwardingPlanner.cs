using System.Globalization;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Sysctl;

/// <summary>What Set-IpForwarding is asked to make true.</summary>
public sealed record ForwardingRequest
{
    public required IReadOnlyList<ForwardingFamily> Families { get; init; }
    public bool Enabled { get; init; } = true;
    public string ConfigurationFile { get; init; } = ForwardingPlanner.DefaultDropIn;

    /// <summary>Also set the value in the later /etc files that would override it at boot.</summary>
    public bool ResolveConflict { get; init; }

    /// <summary>Also set net.bridge.bridge-nf-call-{iptables,ip6tables,arptables} = 0.</summary>
    public bool DisableBridgeNetfilter { get; init; }

    /// <summary>The uplink whose accept_ra matters once IPv6 forwarding is on.</summary>
    public string? Uplink { get; init; }
}

/// <summary>One file to write: its new text and the line edits per key.</summary>
public sealed record SysctlFilePlan(string Path, string NewText, bool Creates, IReadOnlyList<(string Key, SysctlLineEdit Edit)> Edits)
{
    public string Describe() => (Creates ? $"create {Path}: " : $"edit {Path}: ") + string.Join("; ", Edits.Select(e => e.Edit));
}

/// <summary>One running-kernel value to write.</summary>
public sealed record RuntimePlan(string Key, string? Current, string Desired)
{
    public string Describe() => $"set running kernel {SysctlKey.ToDotted(Key)} ({SysctlKey.ProcPath(Key)}) {Current ?? "?"} -> {Desired}";
}

/// <summary>
/// The changes a request needs, and what the state would be after them (<see cref="After"/>: a projection,
/// never shown as the current state; results read the system again).
/// </summary>
public sealed record ForwardingPlan(
    IReadOnlyList<SysctlFilePlan> Files,
    IReadOnlyList<RuntimePlan> RuntimeWrites,
    IReadOnlyList<IpForwardingResult> After,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Notes)
{
    public bool IsEmpty => Files.Count == 0 && RuntimeWrites.Count == 0;

    public required IReadOnlyList<ForwardingFamily> Families { get; init; }

    /// <summary>The resolved -Path.</summary>
    public required string ConfigurationFile { get; init; }
}

/// <summary>
/// Reads and plans forwarding: the file edit (in place, keeping every other byte), the boot outcome of
/// that edit (which file wins), the running kernel change, and the advice that goes with it. Nothing
/// here writes; <see cref="Apply"/> does, through the atomic writer and <see cref="KernelParameters"/>.
/// </summary>
public sealed class ForwardingPlanner
{
    /// <summary>
    /// The module's drop-in. 90 keeps the sysctl.d(5) advice (60-90 for /etc) and sorts after vendor
    /// files (00-system, 50-default), but before 99-sysctl.conf: a key in /etc/sysctl.conf still wins,
    /// which is why every result computes the winner instead of assuming it.
    /// </summary>
    public const string DefaultDropIn = "/etc/sysctl.d/90-kvmhost-forwarding.conf";

    public static readonly string[] BridgeNetfilterKeys =
        ["net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables", "net/bridge/bridge-nf-call-arptables"];

    private const string DropInHeader =
        "Written by KvmHost (Set-IpForwarding). systemd-sysctl applies it at boot; a file whose name sorts\n" +
        "later (99-sysctl.conf, the link to /etc/sysctl.conf) wins for the same key. See about_KvmHost_Forwarding.";

    private readonly HostRoot _root;
    /// <summary>The running kernel's parameters; null for an image, whose kernel is not running.</summary>
    private readonly KernelParameters? _kernel;

    public ForwardingPlanner(HostSystem host)
    {
        _root = host.Root;
        _kernel = host.Running?.Kernel;
    }

    public static string KeyOf(ForwardingFamily family) =>
        family == ForwardingFamily.IPv4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";

    public static IReadOnlyList<ForwardingFamily> Expand(ForwardingFamilySelection selection) => selection switch
    {
        ForwardingFamilySelection.IPv4 => [ForwardingFamily.IPv4],
        ForwardingFamilySelection.IPv6 => [ForwardingFamily.IPv6],
        _ => [ForwardingFamily.IPv4, ForwardingFamily.IPv6],
    };

    /// <summary>The current state, changing nothing (Get-IpForwarding).</summary>
    public IReadOnlyList<IpForwardingState> Inspect(IReadOnlyList<ForwardingFamily> families, string configurationFile)
    {
        string target = ValidateTarget(configurationFile, out _);
        var boot = new SysctlBootOrder(_root);
        var states = States(families, boot, target, runtime: null, warnings: []);
        return states.Select(s => s.Overridden ? s with { Warnings = [.. s.Warnings, OverriddenWarning(s)] } : s).ToList();
    }

    /// <summary>
    /// The results of a run that writes nothing: the state now, read from the system, with what the plan
    /// would change (under -WhatIf, or with every change declined), or with nothing to change (converged).
    /// </summary>
    public IReadOnlyList<IpForwardingResult> Preview(ForwardingPlan plan, bool whatIf) =>
        Inspect(plan.Families, plan.ConfigurationFile).Select(now =>
        {
            var planned = plan.After.First(a => a.AddressFamily == now.AddressFamily);
            return new IpForwardingResult(now)
            {
                WhatIf = whatIf,
                PlannedChanges = planned.PlannedChanges,
                Warnings = planned.Warnings,
                Notes = planned.Notes,
            };
        }).ToList();

    /// <summary>
    /// Writes the approved part of the plan (see <see cref="Apply"/>), then reads the system back: each result
    /// is the state now, with what this run changed for that family.
    /// </summary>
    public IReadOnlyList<IpForwardingResult> Run(ForwardingPlan plan, AtomicFileWriter writer, Func<SysctlFilePlan, bool> approveFile, Func<RuntimePlan, bool> approveRuntime)
    {
        var files = plan.Files.Where(approveFile).ToList();
        var writes = plan.RuntimeWrites.Where(approveRuntime).ToList();
        var changes = Apply(plan, writer, files.Contains, writes.Contains);
        var touched = files.SelectMany(f => f.Edits.Select(e => e.Key)).Concat(writes.Select(r => r.Key)).ToHashSet();
        bool bridgeTouched = BridgeNetfilterKeys.Any(touched.Contains);
        string[] fileChanges = changes.Where(c => c.Changed).Select(c => c.ToString()).ToArray();
        return Inspect(plan.Families, plan.ConfigurationFile).Select(now =>
        {
            var planned = plan.After.First(a => a.AddressFamily == now.AddressFamily);
            return new IpForwardingResult(now)
            {
                Changed = touched.Contains(KeyOf(now.AddressFamily)) || bridgeTouched,
                PlannedChanges = ChangesFor(now.AddressFamily, files, writes),
                FileChanges = fileChanges,
                Warnings = planned.Warnings,
                Notes = planned.Notes,
            };
        }).ToList();
    }

    private static string OverriddenWarning(IpForwardingState s) => !s.ConfigurationFileLoadedAtBoot
        ? $"{s.ConfigurationFile} sets {s.Key} = {s.ConfiguredValue}, but boot does not read that file; boot leaves it at {s.PersistentValue?.ToString(CultureInfo.InvariantCulture) ?? "the kernel default"}."
        : $"{s.ConfigurationFile} sets {s.Key} = {s.ConfiguredValue}, but {s.EffectiveEntry}{(s.EffectiveEntry != s.EffectiveFile ? $" -> {s.EffectiveFile}" : "")} " +
          $"line {s.EffectiveLine} is read later at boot and sets {s.PersistentValue?.ToString(CultureInfo.InvariantCulture) ?? "(excluded)"}.";

    public ForwardingPlan Plan(ForwardingRequest request)
    {
        string target = ValidateTarget(request.ConfigurationFile, out string? existingText);
        if (request.Uplink is { } uplink && !IsInterfaceName(uplink))
            throw new KvmHostException(ErrorIds.ForwardingUplinkInvalid, FailureKind.InvalidArgument,
                $"'{uplink}' is not an interface name (at most 15 bytes, no '/', ':' or whitespace).", uplink,
                "Pass the bridge or NIC name as 'ip link' shows it, for example br0.");
        string desired = request.Enabled ? "1" : "0";
        var keys = request.Families.Select(KeyOf).ToList();
        var want = keys.ToDictionary(k => k, _ => desired);
        if (request.DisableBridgeNetfilter)
            foreach (string key in BridgeNetfilterKeys) want[key] = "0";
        var allKeys = want.Keys.ToList();
        var warnings = new List<Advice>();
        var notes = new List<Advice>();

        // Validate the running kernel before anything is written: a family it does not have is an error.
        var runtimeWrites = new List<RuntimePlan>();
        if (_kernel is not null)
        {
            foreach (string key in allKeys)
            {
                string? current = _kernel.Read(key);
                if (current is null)
                {
                    if (keys.Contains(key)) throw KernelParameters.NotFound(key);
                    continue; // bridge keys: noted below
                }
                if (current != want[key]) runtimeWrites.Add(new RuntimePlan(key, current, want[key]));
            }
        }

        var planned = new Dictionary<string, (SysctlFile File, bool Creates, List<(string, SysctlLineEdit)> Edits)>();
        var targetFile = existingText is null ? NewDropIn() : SysctlFile.Parse(existingText);
        planned[target] = (targetFile, existingText is null, []);
        foreach (string key in allKeys)
            planned[target].Edits.AddRange(targetFile.Set(key, SysctlKey.ToDotted(key), want[key]).Select(e => (key, e)));

        var after = new SysctlBootOrder(_root, Texts(planned));
        for (int round = 0; request.ResolveConflict && round < 16; round++)
        {
            var overriding = allKeys
                .Select(key => (Key: key, Value: want[key], Boot: after.Evaluate([key])[key]))
                .Where(k => k.Boot.Source is not null && !SameValue(k.Boot.Value, k.Value) && k.Boot.Source.RealPath != target)
                .ToList();
            if (overriding.Count == 0) break;
            foreach (var (key, value, boot) in overriding)
            {
                string file = boot.Source!.RealPath;
                if (!file.StartsWith("/etc/", StringComparison.Ordinal))
                    throw new KvmHostException(ErrorIds.SysctlConflictNotResolvable, FailureKind.InvalidOperation,
                        $"{_root.Describe(file)} line {boot.LineNumber} sets {SysctlKey.ToDotted(key)} = {boot.Value ?? "(excluded)"} " +
                        $"after {target} at boot, and it is not a file this module edits (only /etc is the admin's). Nothing was changed.",
                        file, $"Create /etc/sysctl.d/{boot.Source.Name} (it replaces the vendor file of that name) or pass a -Path that sorts after it.");
                if (!planned.TryGetValue(file, out var entry))
                {
                    entry = (after.ReadFile(file), false, []);
                    planned[file] = entry;
                }
                entry.Edits.AddRange(entry.File.Set(key, SysctlKey.ToDotted(key), value).Select(e => (key, e)));
            }
            after = new SysctlBootOrder(_root, Texts(planned));
        }

        var files = planned
            .Where(p => p.Value.Edits.Count > 0)
            .Select(p => new SysctlFilePlan(p.Key, p.Value.File.Text, p.Value.Creates, p.Value.Edits))
            .ToList();

        AddAdvice(request, want, target, after, warnings, notes);
        var changedKeys = files.SelectMany(f => f.Edits.Select(e => e.Key)).Concat(runtimeWrites.Select(r => r.Key)).ToHashSet();
        bool bridgeChanged = BridgeNetfilterKeys.Any(changedKeys.Contains);
        var runtimeAfter = runtimeWrites.ToDictionary(r => r.Key, r => r.Desired);
        var projected = States(request.Families, after, target, runtimeAfter, warnings).Select(state => new IpForwardingResult(state)
        {
            Changed = changedKeys.Contains(KeyOf(state.AddressFamily)) || bridgeChanged,
            PlannedChanges = ChangesFor(state.AddressFamily, files, runtimeWrites),
            Notes = notes.Where(n => n.Key is null || n.Key == KeyOf(state.AddressFamily)).Select(n => n.Text).ToArray(),
        }).ToList();
        return new ForwardingPlan(files, runtimeWrites, projected, warnings.Select(w => w.Text).ToList(), notes.Select(n => n.Text).ToList())
        {
            Families = request.Families,
            ConfigurationFile = target,
        };
    }

    /// <summary>
    /// Writes the approved files, then the approved kernel values. If a write fails, what this call
    /// already wrote is put back (files from their backups, kernel values to what they were), so a
    /// failure leaves the host as it was, and the error says what failed.
    /// </summary>
    public IReadOnlyList<FileChange> Apply(ForwardingPlan plan, AtomicFileWriter writer, Func<SysctlFilePlan, bool> approveFile, Func<RuntimePlan, bool> approveRuntime)
    {
        var changes = new List<FileChange>();
        var written = new List<RuntimePlan>();
        try
        {
            foreach (var file in plan.Files.Where(approveFile))
                changes.Add(writer.Write(file.Path, file.NewText));
            // Runtime writes are planned only where there is a running kernel.
            foreach (var write in plan.RuntimeWrites.Where(approveRuntime))
            {
                _kernel!.Write(write.Key, write.Desired);
                written.Add(write);
            }
        }
        catch (KvmHostException)
        {
            foreach (var change in Enumerable.Reverse(changes)) writer.Undo(change);
            foreach (var write in written.Where(w => w.Current is not null))
            {
                try { _kernel!.Write(write.Key, write.Current!); }
                catch (KvmHostException) { } // the original failure is the one to report
            }
            throw;
        }
        return changes;
    }

    private string ValidateTarget(string configurationFile, out string? existingText)
    {
        if (string.IsNullOrWhiteSpace(configurationFile) || configurationFile[0] != '/')
            throw new KvmHostException(ErrorIds.SysctlPathInvalid, FailureKind.InvalidArgument,
                $"-Path '{configurationFile}' must be an absolute path inside the root (for example {DefaultDropIn}).", configurationFile);
        string real = _root.RealPath(configurationFile); // throws PathEscapesRoot for a path that climbs out
        if (_root.DirectoryExists(real))
            throw new KvmHostException(ErrorIds.NotADirectory, FailureKind.InvalidArgument,
                $"{_root.Describe(real)} is a directory; -Path must name a file.", configurationFile,
                $"Name a file in it, for example {real.TrimEnd('/')}/90-kvmhost-forwarding.conf.");
        existingText = _root.TryReadText(real, 1024 * 1024); // throws FileNotText for a binary file
        if (!IsSysctlConfigurationFile(real))
            throw new KvmHostException(ErrorIds.SysctlPathInvalid, FailureKind.InvalidArgument,
                $"-Path '{configurationFile}' is not a sysctl configuration file (it resolves to {_root.Describe(real)}); nothing was written.",
                configurationFile, $"Name /etc/sysctl.conf or a file /etc/sysctl.d/<name>.conf, for example {DefaultDropIn}.");
        return real;
    }

    /// <summary>
    /// Only /etc/sysctl.conf and /etc/sysctl.d/*.conf (plain names): the module runs as root, and a -Path such as
    /// /etc/passwd or /etc/resolv.conf would otherwise get sysctl lines appended to it.
    /// </summary>
    private static bool IsSysctlConfigurationFile(string realPath)
    {
        if (realPath == "/etc/sysctl.conf") return true;
        const string dropInDirectory = "/etc/sysctl.d/";
        if (!realPath.StartsWith(dropInDirectory, StringComparison.Ordinal)) return false;
        string name = realPath[dropInDirectory.Length..];
        return name.Length > ".conf".Length && name.EndsWith(".conf", StringComparison.Ordinal) && name[0] != '.' &&
            name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '+' or '@');
    }

    /// <summary>A warning or note; Key null when it concerns every family.</summary>
    private sealed record Advice(string? Key, string Text);

    private void AddAdvice(ForwardingRequest request, Dictionary<string, string> want, string target, SysctlBootOrder after,
        List<Advice> warnings, List<Advice> notes)
    {
        if (after.SourceFor(target) is null)
            warnings.Add(new Advice(null, $"{target} is not read at boot by systemd-sysctl (only *.conf files in /etc, /run, /usr/local/lib, /usr/lib " +
                "/sysctl.d are, and /etc/sysctl.conf only through a link such as /etc/sysctl.d/99-sysctl.conf): the setting will not survive a reboot."));
        foreach (var (key, value) in want)
        {
            var boot = after.Evaluate([key])[key];
            if (boot.Source is null || SameValue(boot.Value, value)) continue;
            warnings.Add(new Advice(key, $"At boot {boot.Source}{(boot.LineNumber is int l ? $" line {l}" : "")} sets {SysctlKey.ToDotted(key)} = " +
                $"{boot.Value ?? "(excluded)"} after {target}, so the value will not persist. Run again with -ResolveConflict to set it there too, or edit that line."));
        }

        if (request.Enabled && request.Families.Contains(ForwardingFamily.IPv6))
        {
            string? acceptRa = request.Uplink is null ? null : _kernel?.Read($"net/ipv6/conf/{request.Uplink}/accept_ra");
            if (request.Uplink is not null && acceptRa is not null && acceptRa != "2")
                warnings.Add(new Advice(KeyOf(ForwardingFamily.IPv6), $"With IPv6 forwarding on, {request.Uplink} ignores router advertisements (accept_ra = {acceptRa}); if it gets " +
                    $"its IPv6 address or default route from them, set net.ipv6.conf.{request.Uplink}.accept_ra = 2."));
            else if (acceptRa is null)
                notes.Add(new Advice(KeyOf(ForwardingFamily.IPv6), "IPv6 forwarding makes the host ignore router advertisements on every interface whose accept_ra is not 2: " +
                    "if the uplink configures itself by SLAAC/RA, set net.ipv6.conf.<uplink>.accept_ra = 2 (pass -Uplink to have it checked)."));
        }

        bool bridgeLoaded = _kernel?.Exists(BridgeNetfilterKeys[0]) == true;
        if (request.DisableBridgeNetfilter)
        {
            if (!bridgeLoaded)
                notes.Add(new Advice(null, "The net.bridge.bridge-nf-call-* keys exist only once br_netfilter is loaded: they are in the file, but systemd-sysctl " +
                    "runs before the module loads at boot; load br_netfilter early (modules-load.d) or re-run 'systemd-sysctl --prefix=/net/bridge' " +
                    "when it loads (udev rule, see sysctl.d(5))."));
        }
        else if (request.Enabled && bridgeLoaded && BridgeNetfilterKeys.Any(k => _kernel?.Read(k) is "1"))
        {
            notes.Add(new Advice(null, "br_netfilter is loaded and passes bridged traffic through iptables: bridged guests may lose traffic to the " +
                "host firewall. libvirt advises net.bridge.bridge-nf-call-{iptables,ip6tables,arptables} = 0 (-DisableBridgeNetfilter)."));
        }
    }

    private IReadOnlyList<IpForwardingState> States(IReadOnlyList<ForwardingFamily> families, SysctlBootOrder boot, string target,
        IReadOnlyDictionary<string, string>? runtime, List<Advice> warnings)
    {
        var configured = boot.ReadFile(target);
        bool exists = boot.FileExists(target);
        bool loaded = boot.SourceFor(target) is not null;
        var states = new List<IpForwardingState>();
        foreach (var family in families)
        {
            string key = KeyOf(family);
            var winner = boot.Evaluate([key])[key];
            int? configuredValue = ParseInt(configured.EntriesFor(key) is [.., var lastEntry] ? lastEntry.Value : null);
            string? runtimeText = runtime is not null && runtime.TryGetValue(key, out var planned) ? planned : _kernel?.Read(key);
            int? persistent = ParseInt(winner.Value);
            states.Add(new IpForwardingState
            {
                AddressFamily = family,
                Key = SysctlKey.ToDotted(key),
                RuntimeValue = ParseInt(runtimeText),
                RuntimeApplied = _kernel is not null,
                PersistentValue = persistent,
                ConfigurationFile = exists ? target : null,
                ConfiguredValue = configuredValue,
                ConfigurationFileLoadedAtBoot = exists && loaded,
                EffectiveFile = winner.Source?.RealPath,
                EffectiveEntry = winner.Source?.ListedPath,
                EffectiveLine = winner.LineNumber,
                EffectivePattern = winner.Pattern,
                Overridden = configuredValue is not null && (!loaded || persistent != configuredValue),
                // Advice about the bridge keys belongs to every family; about one family's key, to that one.
                Warnings = warnings.Where(w => w.Key is null || w.Key == key || !w.Key.StartsWith("net/ipv", StringComparison.Ordinal)).Select(w => w.Text).ToArray(),
                Root = _root.Path,
            });
        }
        return states;
    }

    /// <summary>One line per change that concerns the family (its key, and the shared bridge keys).</summary>
    public static string[] ChangesFor(ForwardingFamily family, IEnumerable<SysctlFilePlan> files, IEnumerable<RuntimePlan> runtimeWrites)
    {
        bool Concerns(string key) => key == KeyOf(family) || BridgeNetfilterKeys.Contains(key);
        return files.SelectMany(f => f.Edits.Where(e => Concerns(e.Key)).Select(e => $"{f.Path}: {e.Edit}"))
            .Concat(runtimeWrites.Where(r => Concerns(r.Key)).Select(r => $"{SysctlKey.ProcPath(r.Key)}: {r.Current ?? "?"} -> {r.Desired}"))
            .ToArray();
    }

    private static bool IsInterfaceName(string name) =>
        name.Length is > 0 and <= 15 && name is not "." and not ".." && System.Text.Encoding.UTF8.GetByteCount(name) <= 15 &&
        !name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c));

    private static SysctlFile NewDropIn()
    {
        var file = SysctlFile.Empty;
        file.AppendComment(DropInHeader);
        return file;
    }

    private static Dictionary<string, string> Texts(Dictionary<string, (SysctlFile File, bool Creates, List<(string, SysctlLineEdit)> Edits)> planned) =>
        planned.ToDictionary(p => p.Key, p => p.Value.File.Text);

    private static bool SameValue(string? a, string? b) =>
        a == b || (ParseInt(a) is int x && ParseInt(b) is int y && x == y);

    private static int? ParseInt(string? value) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int parsed) ? parsed : null;
}
