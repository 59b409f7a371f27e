using KvmHost.Core.Platform;

namespace KvmHost.Core.Tests.Services;

/// <summary>
/// A systemd in memory for planning tests: answers `systemctl show` from a unit table, records every
/// other command, and applies start/enable/stop/disable/unmask to the table (or fails a chosen verb).
/// </summary>
internal sealed class FakeSystemctl : ICommandRunner
{
    public Dictionary<string, (string Load, string Active, string File)> Units { get; } = new(StringComparer.Ordinal);
    public List<CommandRequest> Writes { get; } = [];
    public List<CommandRequest> All { get; } = [];
    public string? FailVerb { get; set; }
    public string Journal { get; set; } = "2026-01-01T00:00:00+0000 host libvirtd[1]: cannot bind: Address in use";

    public FakeSystemctl With(string unit, string active = "inactive", string file = "disabled", string load = "loaded")
    {
        Units[unit] = (load, active, file);
        return this;
    }

    public bool IsAvailable(string program) => true;

    public CommandResult Run(CommandRequest request, CancellationToken cancellationToken)
    {
        All.Add(request);
        if (request.Program == "journalctl") return new CommandResult(request, 0, Journal + "\n", "", TimeSpan.Zero);
        var args = request.Arguments.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        string verb = args[0];
        var units = args.Skip(verb == "show" ? 3 : 1).ToList();
        if (verb == "show") return new CommandResult(request, 0, Show(units), "", TimeSpan.Zero);
        Writes.Add(request);
        if (verb == FailVerb) return new CommandResult(request, 1, "", $"Job for {units[0]} failed because the control process exited with error code.\n", TimeSpan.Zero);
        foreach (string unit in units)
        {
            var (load, active, file) = Units[unit];
            Units[unit] = verb switch
            {
                "start" => (load, "active", file),
                "stop" => (load, "inactive", file),
                "enable" => (load, active, "enabled"),
                "disable" => (load, active, "disabled"),
                "unmask" => ("loaded", active, "disabled"),
                _ => throw new InvalidOperationException(verb),
            };
        }
        return new CommandResult(request, 0, "", "", TimeSpan.Zero);
    }

    private string Show(IEnumerable<string> units) => string.Join("\n", units.Select(u =>
    {
        var (load, active, file) = Units.TryGetValue(u, out var s) ? s : ("not-found", "inactive", "");
        return $"Id={u}\nLoadState={load}\nActiveState={active}\nSubState={(active == "active" ? "running" : "dead")}\nUnitFileState={file}\n";
    }));
}
