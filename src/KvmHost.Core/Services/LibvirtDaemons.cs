using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>One systemctl command of a plan, with the words ShouldProcess shows.</summary>
public sealed record LibvirtStep(string Verb, IReadOnlyList<string> Units, string Description, string CommandLine);

/// <summary>What <see cref="LibvirtDaemons.Plan"/> found and decided.</summary>
public sealed class LibvirtPlan
{
    public required LibvirtLayout Layout { get; init; }

    /// <summary>The chosen layout's units that are installed, in the order they are reported.</summary>
    public required IReadOnlyList<string> Managed { get; init; }

    /// <summary>The units that must be running: the sockets, or the service where there are none (libvirt before 5.6).</summary>
    public required IReadOnlyList<string> MustRun { get; init; }

    /// <summary>Units of the other layout that were in use and are stopped and disabled first.</summary>
    public required IReadOnlyList<string> Retiring { get; init; }

    public required IReadOnlyList<LibvirtStep> Steps { get; init; }

    /// <summary>
    /// The layout's units are not installed yet, and the steps name all of them: a preview after
    /// Install-KvmPackages -WhatIf, whose packages would bring them.
    /// </summary>
    public bool UnitsPending { get; init; }
}

/// <summary>
/// Reads, plans and applies the libvirt daemon units of one root. Planning never changes anything,
/// so -WhatIf and Get-Libvirtd share it; an offline root is only enabled, never started or probed.
/// </summary>
public sealed class LibvirtDaemons
{
    private readonly HostSystem _host;
    private readonly HostRoot _root;
    private readonly Systemctl _systemctl;
    private readonly Func<LibvirtLayout> _releaseDefault;

    /// <summary>True on the running system, where units run and the daemon can answer; an image only has unit files.</summary>
    private readonly bool _running;

    /// <param name="releaseDefault">The release's layout, asked only when Auto cannot tell from the units.</param>
    public LibvirtDaemons(HostSystem host, Func<LibvirtLayout> releaseDefault)
    {
        _host = host;
        _root = host.Root;
        _running = host.Running is not null;
        _systemctl = new Systemctl(host);
        _releaseDefault = releaseDefault;
    }

    public void EnsureSystemdRunning() => _systemctl.EnsureSystemdRunning();

    /// <param name="packagesPending">
    /// Libvirt's packages are only planned (Install-KvmPackages -WhatIf piped into Enable-Libvirtd -WhatIf): missing
    /// units are then planned as they will be installed instead of being an error.
    /// </param>
    public LibvirtPlan Plan(LibvirtDaemonMode mode, bool packagesPending = false)
    {
        var states = _systemctl.Show(LibvirtUnits.All).ToDictionary(s => s.Name, StringComparer.Ordinal);
        LibvirtLayout layout = LibvirtUnits.ChooseLayout(mode, states, _releaseDefault);
        var managed = LibvirtUnits.Managed(layout).Where(u => states[u].Exists).ToList();
        bool pending = packagesPending && !IsInstalled(layout, managed);
        if (pending) managed = LibvirtUnits.Managed(layout).ToList();
        else EnsureInstalled(layout, managed);

        LibvirtLayout other = layout == LibvirtLayout.Monolithic ? LibvirtLayout.Modular : LibvirtLayout.Monolithic;
        var retiring = LibvirtUnits.Retired(other).Select(u => states[u])
            .Where(s => s.Exists && !s.IsMasked && (s.IsActive && _running || s.IsExplicitlyEnabled)).ToList();
        var sockets = managed.Where(LibvirtUnits.IsSocket).ToList();
        var mustRun = sockets.Count > 0 ? sockets : managed;

        var steps = new List<LibvirtStep>();
        string once = pending ? " (once Install-KvmPackages has installed them)" : string.Empty;
        string from = other == LibvirtLayout.Monolithic ? "the monolithic libvirtd" : "the modular libvirt daemons";
        string to = layout == LibvirtLayout.Monolithic ? "monolithic libvirtd" : "modular daemons";
        if (_running) AddStep(steps, "stop", retiring.Where(s => s.IsActive).Select(s => s.Name), $"Stop {from} (switching to {to})");
        AddStep(steps, "disable", retiring.Where(s => s.IsExplicitlyEnabled).Select(s => s.Name), $"Disable {from} at boot (switching to {to})");
        AddStep(steps, "unmask", managed.Where(u => states[u].IsMasked), "Unmask");
        AddStep(steps, "enable", managed.Where(u => !states[u].IsEnabled), "Enable at boot" + once);
        if (_running) AddStep(steps, "start", mustRun.Where(u => !states[u].IsActive), "Start" + once);

        return new LibvirtPlan
        {
            Layout = layout, Managed = managed, MustRun = mustRun, Retiring = retiring.Select(s => s.Name).ToList(), Steps = steps,
            UnitsPending = pending,
        };
    }

    private static bool IsInstalled(LibvirtLayout layout, IReadOnlyList<string> managed) =>
        managed.Contains(layout == LibvirtLayout.Monolithic ? LibvirtUnits.MonolithicService : "virtqemud.socket");

    private void AddStep(List<LibvirtStep> steps, string verb, IEnumerable<string> units, string description)
    {
        var list = units.ToList();
        if (list.Count == 0) return;
        steps.Add(new LibvirtStep(verb, list, $"{description}: {string.Join(", ", list)}", _systemctl.Describe(verb, list)));
    }

    private void EnsureInstalled(LibvirtLayout layout, IReadOnlyList<string> managed)
    {
        string key = layout == LibvirtLayout.Monolithic ? LibvirtUnits.MonolithicService : "virtqemud.socket";
        if (IsInstalled(layout, managed)) return;
        string where = _running ? string.Empty : $" under root {_root.Path}";
        throw layout == LibvirtLayout.Monolithic
            ? new KvmHostException(ErrorIds.LibvirtNotInstalled, FailureKind.NotInstalled,
                $"Unit {key} not found{where}: the libvirt daemon is not installed.", key,
                "Install libvirt first (Install-KvmPackages; or dnf install libvirt / apt-get install libvirt-daemon-system), or use -Mode Modular where only the modular daemons are installed.")
            : new KvmHostException(ErrorIds.LibvirtNotInstalled, FailureKind.NotInstalled,
                $"Unit {key} not found{where}: libvirt's modular daemons are not installed.", key,
                "Install libvirt (Install-KvmPackages; dnf install libvirt brings the modular daemons on RHEL 9+), or use -Mode Monolithic.");
    }

    /// <summary>Runs one step; a failed start is reported with the journal of each unit that did not come up.</summary>
    public void Apply(LibvirtStep step)
    {
        var result = _systemctl.Change(step.Verb, step.Units);
        if (result.Succeeded) return;
        if (step.Verb != "start") throw Systemctl.Failed(result);
        var down = _systemctl.Show(step.Units).Where(s => !s.IsActive).Select(s => s.Name).DefaultIfEmpty(step.Units[0]).ToList();
        throw new KvmHostException(ErrorIds.LibvirtStartFailed, FailureKind.InvalidOperation,
            $"'{result.Request.CommandLine}' failed (exit code {result.ExitCode}): {result.Tail(3)}" + Journal(down), down[0],
            $"Fix the cause shown in the journal ('journalctl -u {down[0]}'), then run Enable-Libvirtd again.");
    }

    /// <summary>Reads the units and, on a live root, asks the daemon whether it answers (Get-Libvirtd, Test-KvmHost).</summary>
    public LibvirtdState Read(LibvirtPlan plan, TimeSpan probeTimeout) =>
        Read(plan, probeTimeout, waitForSocket: false,
            _running ? null : $"Offline root: only unit files were read; nothing runs there. Enabled units start when {_root.Path} boots.");

    /// <summary>The result of Enable-Libvirtd: the units read back (the state now), and what this run did or, with WhatIf, would do.</summary>
    public LibvirtdResult Report(LibvirtPlan plan, bool changed, IReadOnlyList<string> plannedChanges, bool whatIf, TimeSpan probeTimeout, bool waitForSocket)
    {
        string? note = _running ? null
            : whatIf && plannedChanges.Count > 0 ? $"Offline root: a run would only enable units with systemctl --root; nothing would be started. They start when {_root.Path} boots."
            : changed ? $"Offline root: units were only enabled with systemctl --root; nothing was started. They start when {_root.Path} boots."
            : $"Offline root: the units are enabled; nothing runs there. They start when {_root.Path} boots.";
        if (plan.UnitsPending)
            note = (note is null ? string.Empty : note + " ") + "The units come with libvirt's packages, which are not installed yet.";
        LibvirtdState now = Read(plan, probeTimeout, waitForSocket, note);
        return new LibvirtdResult
        {
            Mode = now.Mode, Units = now.Units, Active = now.Active, Enabled = now.Enabled, Reachable = now.Reachable,
            Endpoint = now.Endpoint, ProbeDetail = now.ProbeDetail, Root = now.Root, Note = now.Note,
            Changed = changed,
            WhatIf = whatIf,
            PlannedChanges = plannedChanges.ToArray(),
            RuntimeApplied = _running && !whatIf,
        };
    }

    private LibvirtdState Read(LibvirtPlan plan, TimeSpan probeTimeout, bool waitForSocket, string? note)
    {
        // Units of a pending plan that are not installed yet are not part of the state now.
        var states = _systemctl.Show(plan.Managed).Where(s => s.Exists || !plan.UnitsPending).ToList();
        string endpoint = LibvirtUnits.ProbeSocket(plan.Layout);
        ProbeResult? probe = _running ? LibvirtProbe.Probe(_root, endpoint, probeTimeout, waitForSocket, _host.Cancellation) : null;
        return new LibvirtdState
        {
            Mode = plan.Layout,
            Units = states.Select(s => new LibvirtUnit
                { Name = s.Name, ActiveState = s.ActiveState, SubState = s.SubState, UnitFileState = s.UnitFileState }).ToArray(),
            Active = _running && states.Count > 0 && states.Where(s => plan.MustRun.Contains(s.Name)).All(s => s.IsActive),
            Enabled = states.Count > 0 && states.All(s => s.IsEnabled),
            Reachable = probe?.Reachable ?? false,
            Endpoint = endpoint,
            ProbeDetail = probe?.Detail ?? "not probed: offline root",
            Root = _root.Path,
            Note = note,
        };
    }

    /// <summary>
    /// The warning before the other layout's units are retired: on the running system they are stopped too, in an
    /// image only disabled. Null when the plan retires nothing.
    /// </summary>
    public string? RetiringWarning(LibvirtPlan plan) => plan.Retiring.Count == 0 ? null
        : $"Switching to the {plan.Layout.ToString().ToLowerInvariant()} libvirt daemons: "
            + $"{(_running ? "stopping and disabling" : "disabling (in the image)")} {string.Join(", ", plan.Retiring)} first. Running guests keep running.";

    /// <summary>After a real run on the running system: fails when systemd runs the daemon but it does not answer.</summary>
    public void EnsureReachable(LibvirtdResult state)
    {
        if (_running && !state.WhatIf && !state.Reachable) throw NotReachable(state);
    }

    /// <summary>The error for a daemon that systemd runs but that does not answer, with its journal.</summary>
    private KvmHostException NotReachable(LibvirtdState state)
    {
        string service = state.Mode == LibvirtLayout.Monolithic ? LibvirtUnits.MonolithicService : "virtqemud.service";
        return new KvmHostException(ErrorIds.LibvirtNotReachable, FailureKind.ResourceUnavailable,
            $"The libvirt daemon does not answer on {state.Endpoint}: {state.ProbeDetail}. systemd reports: "
            + string.Join(", ", state.Units.Where(u => u.Name.StartsWith(service.Split('.')[0], StringComparison.Ordinal))
                .Select(u => $"{u.Name} {u.ActiveState}/{u.SubState}")) + Journal([service]),
            service, $"Read 'journalctl -u {service}' and 'systemctl status {service}', fix the cause, then run Enable-Libvirtd again.");
    }

    private string Journal(IEnumerable<string> units)
    {
        var parts = units.Select(u => (Unit: u, Text: _systemctl.JournalTail(u))).Where(p => p.Text is not null)
            .Select(p => $"{Environment.NewLine}Last journal lines of {p.Unit}:{Environment.NewLine}{p.Text}");
        return string.Concat(parts);
    }
}
