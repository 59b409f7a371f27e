using KvmHost.Core.Platform;

namespace KvmHost.Core.Tests.Packages;

/// <summary>
/// A fake ICommandRunner for planning tests: records every request and answers from a script of
/// (program, first matching argument) -> result. Unscripted programs fail the test.
/// </summary>
internal sealed class ScriptedRunner : ICommandRunner
{
    private readonly List<(Func<CommandRequest, bool> Match, Func<CommandRequest, (int Exit, string Out, string Err)> Answer)> _script = [];

    public List<CommandRequest> Requests { get; } = [];

    public ScriptedRunner On(string program, string? argument, int exit, string stdout = "", string stderr = "")
        => On(r => r.Program == program && (argument is null || r.Arguments.Contains(argument)), _ => (exit, stdout, stderr));

    public ScriptedRunner On(Func<CommandRequest, bool> match, Func<CommandRequest, (int, string, string)> answer)
    {
        _script.Insert(0, (match, answer)); // later rules win, so a test can override a default
        return this;
    }

    /// <summary>rpm -q answered from a set of installed name -> VERSION-RELEASE, as real rpm would.</summary>
    public ScriptedRunner WithRpmDatabase(IReadOnlyDictionary<string, string> installed) => On(
        r => r.Program == "rpm" && r.Arguments.Contains("-q"),
        r =>
        {
            var names = r.Arguments.SkipWhile(a => a != "--qf").Skip(2).ToList();
            var lines = names.Select(n => installed.TryGetValue(n, out var v) ? $"{n} {v}" : $"package {n} is not installed");
            return (names.Count(n => !installed.ContainsKey(n)), string.Join('\n', lines) + "\n", "");
        });

    public CommandResult Run(CommandRequest request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        foreach (var (match, answer) in _script)
        {
            if (!match(request)) continue;
            var (exit, stdout, stderr) = answer(request);
            foreach (string line in stdout.Split('\n')) request.OnOutputLine?.Invoke(line);
            return new CommandResult(request, exit, stdout, stderr, TimeSpan.Zero);
        }
        throw new InvalidOperationException($"unexpected command: {request.CommandLine}");
    }

    public bool IsAvailable(string program) => true;

    public IEnumerable<CommandRequest> Started(string program) => Requests.Where(r => r.Program == program);
}
