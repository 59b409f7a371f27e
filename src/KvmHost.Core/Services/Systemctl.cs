using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>
/// systemctl for one root: the running systemd for "/", or `systemctl --root=DIR` for an image, where
/// only unit-file operations exist (enable, disable, mask, unmask, is-enabled) and nothing runs.
/// </summary>
internal sealed class Systemctl
{
    public const string ShowProperties = "Id,LoadState,ActiveState,SubState,UnitFileState";
    private const string NotBootedMarker = "has not been booted with systemd";

    /// <summary>Where unit files live, most specific first (Debian still ships under /lib).</summary>
    public static readonly string[] UnitDirectories = ["/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];

    private const string Systemd = "org.freedesktop.systemd1";
    private const string ManagerPath = "/org/freedesktop/systemd1";

    private readonly HostRoot _root;
    private readonly ICommandRunner _runner;
    private readonly RunningSystem? _running;
    private readonly CancellationToken _cancellation;

    public Systemctl(HostSystem host)
    {
        _root = host.Root;
        _runner = host.Runner;
        _running = host.Running;
        _cancellation = host.Cancellation;
        IsOffline = host.Running is null;
    }

    /// <summary>An image: systemctl --root, unit files only.</summary>
    public bool IsOffline { get; }

    /// <summary>
    /// sd_booted(3): systemd is PID 1 exactly when /run/systemd/system is a directory. Checked before the
    /// first systemctl call so the admin gets one clear error instead of a failed command.
    /// </summary>
    public void EnsureSystemdRunning()
    {
        if (IsOffline || _root.DirectoryExists("/run/systemd/system")) return;
        throw NotBooted(null);
    }

    /// <summary>The state of every named unit, in one call; unknown units come back as not-found.</summary>
    public IReadOnlyList<SystemdUnitState> Show(IReadOnlyList<string> units)
    {
        if (units.Count == 0) return [];
        if (IsOffline) return ShowOffline(units);
        if (ShowOverBus(units) is { } fromBus) return fromBus;
        var arguments = new List<string> { "show", "-p", ShowProperties, "--" };
        arguments.AddRange(units);
        var result = Run(arguments, TimeSpan.FromSeconds(30));
        if (!result.Succeeded) throw Failed(result);
        var parsed = SystemctlShowParser.Parse(result.StandardOutput);
        // Blocks come in the order asked; an alias reports its target's Id, so the asked name is kept.
        if (parsed.Count == units.Count)
            return parsed.Select((state, i) => state with { Name = units[i] }).ToList();
        return units.Select(name => parsed.FirstOrDefault(p => p.Name == name) ?? SystemdUnitState.NotFound(name)).ToList();
    }

    /// <summary>
    /// The same four properties `systemctl show` prints, asked of systemd on the system bus in two calls: ListUnitsByNames
    /// (which loads each unit, as `systemctl show` does, so one that is not installed answers LoadState "not-found") and
    /// ListUnitFilesByPatterns for the unit file states (a unit without a file has none, as `systemctl show` prints).
    /// systemd before 230 (RHEL 7) has neither method: there each unit's properties are asked with one GetAll each, all
    /// sent before the first reply is read. Null when no bus answers or systemd is not on it: the caller runs systemctl.
    /// </summary>
    private List<SystemdUnitState>? ShowOverBus(IReadOnlyList<string> units)
    {
        if (_running?.CallBus([
                new BusCall(Systemd, ManagerPath, Systemd + ".Manager", "ListUnitsByNames", "as", [units.ToArray()]),
                new BusCall(Systemd, ManagerPath, Systemd + ".Manager", "ListUnitFilesByPatterns", "asas", Array.Empty<string>(), units.ToArray()),
            ]) is not [var loaded, var files])
            return null;
        if (loaded.Succeeded && files.Succeeded && loaded.Values is [List<object?> rows] && files.Values is [List<object?> fileRows])
        {
            // (name, description, load, active, sub, following, path, job id, job type, job path) and (file path, state)
            var byName = rows.OfType<object?[]>().Where(r => r.Length >= 5 && r[0] is string)
                .GroupBy(r => (string)r[0]!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            var fileStates = fileRows.OfType<object?[]>().Where(r => r.Length >= 2 && r[0] is string && r[1] is string)
                .GroupBy(r => Path.GetFileName((string)r[0]!), StringComparer.Ordinal).ToDictionary(g => g.Key, g => (string)g.First()[1]!, StringComparer.Ordinal);
            if (units.All(byName.ContainsKey))
                return units.Select(unit => new SystemdUnitState(unit, byName[unit][2] as string ?? string.Empty, byName[unit][3] as string ?? string.Empty,
                    byName[unit][4] as string ?? string.Empty, fileStates.GetValueOrDefault(unit) ?? string.Empty)).ToList();
        }
        var calls = units.Select(unit => new BusCall(Systemd, UnitObjectPath(unit), BusCall.Properties, "GetAll", "s", Systemd + ".Unit")).ToList();
        if (_running.CallBus(calls) is not { } replies || replies.Any(r => !r.Succeeded)) return null;
        return units.Select((unit, i) =>
        {
            var properties = replies[i].Values is [Dictionary<string, object?> all] ? all : [];
            string Value(string property) => properties.GetValueOrDefault(property) as string ?? string.Empty;
            return new SystemdUnitState(unit, Value("LoadState"), Value("ActiveState"), Value("SubState"), Value("UnitFileState"));
        }).ToList();
    }

    /// <summary>systemd's object path of a unit: /org/freedesktop/systemd1/unit/ and the name escaped as sd_bus_path_encode does.</summary>
    internal static string UnitObjectPath(string unit)
    {
        var path = new System.Text.StringBuilder("/org/freedesktop/systemd1/unit/");
        if (unit.Length == 0) return path.Append('_').ToString();
        for (int i = 0; i < unit.Length; i++)
        {
            char c = unit[i];
            if (char.IsAsciiLetter(c) || (i > 0 && char.IsAsciiDigit(c))) path.Append(c);
            else foreach (byte b in System.Text.Encoding.UTF8.GetBytes(c.ToString())) path.Append('_').Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return path.ToString();
    }

    /// <summary>Offline there is no runtime state: a unit exists if its file does, and is-enabled reads the links.</summary>
    private IReadOnlyList<SystemdUnitState> ShowOffline(IReadOnlyList<string> units)
    {
        var present = units.Where(UnitFileExists).ToList();
        var fileStates = new Dictionary<string, string>(StringComparer.Ordinal);
        if (present.Count > 0)
        {
            var arguments = new List<string> { "is-enabled", "--" };
            arguments.AddRange(present);
            // is-enabled exits 1 when any unit is not enabled; its stdout still has one line per unit.
            var result = Run(arguments, TimeSpan.FromSeconds(30));
            var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length != present.Count) throw Failed(result);
            for (int i = 0; i < present.Count; i++) fileStates[present[i]] = lines[i];
        }
        return units.Select(name => fileStates.TryGetValue(name, out var state)
            ? new SystemdUnitState(name, state is "masked" ? "masked" : "loaded", "n/a", "n/a", state)
            : SystemdUnitState.NotFound(name)).ToList();
    }

    private bool UnitFileExists(string unit) =>
        UnitDirectories.Any(dir => _root.FileExists($"{dir}/{unit}") || IsLink($"{dir}/{unit}"));

    private bool IsLink(string pathInRoot)
    {
        string hostPath = _root.Resolve(pathInRoot, followLast: false);
        return new FileInfo(hostPath).LinkTarget is not null; // a mask: a link to /dev/null
    }

    /// <summary>Runs a unit-changing verb (start, stop, enable, disable, unmask) on several units at once.</summary>
    public CommandResult Change(string verb, IReadOnlyList<string> units) => Run(ChangeArguments(verb, units), TimeSpan.FromMinutes(3));

    /// <summary>The exact command line <see cref="Change"/> runs, for -WhatIf and the result's Actions.</summary>
    public string Describe(string verb, IReadOnlyList<string> units) =>
        new CommandRequest("systemctl", Arguments(ChangeArguments(verb, units))).CommandLine;

    private static List<string> ChangeArguments(string verb, IReadOnlyList<string> units)
    {
        var arguments = new List<string> { verb, "--" };
        arguments.AddRange(units);
        return arguments;
    }

    /// <summary>The unit's last journal lines, or null when the journal has none (or cannot be read).</summary>
    public string? JournalTail(string unit, int lines = 10)
    {
        if (IsOffline) return null;
        try
        {
            var result = _runner.Run(new CommandRequest("journalctl", "-u", unit, "-n", lines.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--no-pager", "-o", "short-iso") { Timeout = TimeSpan.FromSeconds(20) }, _cancellation);
            string text = result.StandardOutput.Trim();
            return result.Succeeded && text.Length > 0 && !text.StartsWith("-- No entries --", StringComparison.Ordinal) ? text : null;
        }
        catch (KvmHostException)
        {
            return null; // the journal only adds detail to an error already being raised
        }
    }

    private CommandResult Run(List<string> arguments, TimeSpan timeout)
    {
        var result = _runner.Run(new CommandRequest("systemctl", Arguments(arguments)) { Timeout = timeout }, _cancellation);
        if (!result.Succeeded && (result.StandardError + result.StandardOutput).Contains(NotBootedMarker, StringComparison.OrdinalIgnoreCase))
            throw NotBooted(result);
        return result;
    }

    private List<string> Arguments(List<string> arguments)
    {
        if (IsOffline) arguments.Insert(0, "--root=" + _root.Path);
        else arguments.Insert(0, "--no-ask-password");
        return arguments;
    }

    public static KvmHostException Failed(CommandResult result) =>
        new(ErrorIds.SystemctlFailed, FailureKind.InvalidOperation,
            $"'{result.Request.CommandLine}' failed with exit code {result.ExitCode}: {result.Tail()}",
            "systemctl", "Check 'systemctl status' and the journal ('journalctl -xe') for the units named.");

    private static KvmHostException NotBooted(CommandResult? result) =>
        new(ErrorIds.SystemdNotRunning, FailureKind.ResourceUnavailable,
            "System has not been booted with systemd as init system (PID 1): the libvirt daemons cannot be started or queried here."
            + (result is null ? string.Empty : $" ('{result.Request.CommandLine}': {result.Tail(2)})"),
            "systemd", "Run on the host itself (not in a plain container or chroot), or prepare an image offline with -Root DIR, which only enables units.");
}
