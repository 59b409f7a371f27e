using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace KvmHost.Core.Platform;

/// <summary>One external program to run: always an argument list, never a shell string.</summary>
public sealed record CommandRequest(string Program, IReadOnlyList<string> Arguments)
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// What to tell the admin when the program runs out of time. Only a caller whose timeout comes from the admin
    /// (a cmdlet's -TimeoutSec) can say how to give it more; the default names what programs usually wait for.
    /// </summary>
    public string TimeoutHint { get; init; } = "Check what the program waits for (a lock, the network, a service), then run the command again.";

    /// <summary>Extra environment; a null value removes the variable.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    public string? StandardInput { get; init; }

    /// <summary>
    /// On cancellation (Ctrl+C) send SIGINT first and give the program this long to stop by itself before it
    /// is killed; zero kills at once. For programs that must not die mid-write (rpm transactions).
    /// </summary>
    public TimeSpan InterruptGracePeriod { get; init; } = TimeSpan.Zero;

    /// <summary>Called for each line of standard output, on the thread that called Run (so a cmdlet may write progress).</summary>
    public Action<string>? OnOutputLine { get; init; }

    public CommandRequest(string program, params string[] arguments) : this(program, (IReadOnlyList<string>)arguments) { }

    /// <summary>The command as an admin could paste it into a shell.</summary>
    public string CommandLine => string.Join(' ', new[] { Program }.Concat(Arguments).Select(ShellQuote));

    private static readonly Regex SafeWord = new(@"^[A-Za-z0-9_@%+=:,./-]+$", RegexOptions.Compiled);

    internal static string ShellQuote(string word) =>
        word.Length > 0 && SafeWord.IsMatch(word) ? word : "'" + word.Replace("'", "'\\''") + "'";
}

public sealed record CommandResult(CommandRequest Request, int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of stderr (or stdout when stderr is empty): enough to act on, never a whole dump.</summary>
    public string Tail(int lines = 6)
    {
        string text = string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError;
        var all = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" | ", all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Throws <see cref="ErrorIds.CommandFailed"/> unless the exit code is 0.</summary>
    public CommandResult EnsureSuccess(string? hint = null, object? target = null)
    {
        if (Succeeded) return this;
        throw new KvmHostException(ErrorIds.CommandFailed, FailureKind.InvalidOperation,
            $"'{Request.CommandLine}' failed with exit code {ExitCode}: {Tail()}", target ?? Request.Program, hint);
    }
}

/// <summary>The one way the module starts programs; a seam so unit tests can plan without running anything.</summary>
public interface ICommandRunner
{
    CommandResult Run(CommandRequest request, CancellationToken cancellationToken);

    /// <summary>True when the program can be found on PATH (or is an existing path).</summary>
    bool IsAvailable(string program);
}

public sealed partial class CommandRunner : ICommandRunner
{
    private readonly Action<string>? _log;
    private int _started;

    /// <param name="log">Receives the exact command line before each start (the cmdlets pass Write-Verbose).</param>
    public CommandRunner(Action<string>? log = null) => _log = log;

    /// <summary>How many processes this runner started (the tests check that a run started what it should).</summary>
    public int StartedCount => _started;

    public bool IsAvailable(string program) => FindOnPath(program) is not null;

    public CommandResult Run(CommandRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string? executable = FindOnPath(request.Program)
            ?? throw NotFound(request.Program, null);

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry variable in System.Environment.GetEnvironmentVariables())
            environment[(string)variable.Key] = (string?)variable.Value ?? string.Empty;
        // Parsed output must not depend on the admin's language.
        environment["LC_ALL"] = "C";
        if (request.Environment is not null)
            foreach (var (key, value) in request.Environment)
                if (value is null) environment.Remove(key); else environment[key] = value;

        _log?.Invoke($"Running: {request.CommandLine} (timeout {request.Timeout.TotalSeconds:0} s)");
        var clock = Stopwatch.StartNew();
        ChildProcess process;
        try
        {
            process = ChildProcess.Start(executable, request.Arguments, environment);
        }
        catch (Win32Exception e)
        {
            throw NotFound(request.Program, e);
        }
        using var started = process;
        Interlocked.Increment(ref _started);

        // Lines arrive on reader threads; they are handed to the caller's thread so callbacks may write
        // progress to the PowerShell pipeline, which only accepts writes from its own thread.
        using var lines = new BlockingCollection<(bool IsError, string? Line)>();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var readers = new[]
        {
            // Not cancellable: the pipes are drained until the process is gone, so it never blocks on a full pipe.
            Task.Run(() => Pump(process.StandardOutput, false, lines), CancellationToken.None),
            Task.Run(() => Pump(process.StandardError, true, lines), CancellationToken.None),
        };
        _ = Task.WhenAll(readers).ContinueWith(_ => Complete(lines), TaskScheduler.Default);
        try
        {
            if (request.StandardInput is not null) process.StandardInput.Write(request.StandardInput);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program exited without reading its input; its exit code tells the rest.
        }

        try
        {
            while (!lines.IsCompleted)
            {
                TimeSpan left = request.Timeout - clock.Elapsed;
                if (left <= TimeSpan.Zero) throw new TimeoutException();
                if (!lines.TryTake(out var item, (int)Math.Min(left.TotalMilliseconds, 250), cancellationToken)) continue;
                if (item.IsError) { stderr.Append(item.Line).Append('\n'); continue; }
                stdout.Append(item.Line).Append('\n');
                request.OnOutputLine?.Invoke(item.Line!);
            }
            TimeSpan remaining = request.Timeout - clock.Elapsed;
            if (!process.WaitForExit(remaining)) throw new TimeoutException();
        }
        catch (TimeoutException)
        {
            process.KillTree();
            throw new KvmHostException(ErrorIds.CommandTimedOut, FailureKind.OperationTimeout,
                $"'{request.CommandLine}' did not finish within {request.Timeout.TotalSeconds:0} s and was stopped.",
                request.Program, request.TimeoutHint);
        }
        catch (OperationCanceledException)
        {
            if (request.InterruptGracePeriod > TimeSpan.Zero && process.Interrupt())
                process.WaitForExit(request.InterruptGracePeriod);
            process.KillTree();
            throw;
        }
        return new CommandResult(request, process.ExitCode, stdout.ToString(), stderr.ToString(), clock.Elapsed);
    }

    // After a timeout or Ctrl+C the caller has already left and disposed the collection: late lines are dropped.
    private static void Pump(StreamReader reader, bool isError, BlockingCollection<(bool, string?)> sink)
    {
        try
        {
            string? line;
            while ((line = reader.ReadLine()) is not null) sink.Add((isError, line));
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or IOException) { }
    }

    private static void Complete(BlockingCollection<(bool, string?)> sink)
    {
        try { sink.CompleteAdding(); }
        catch (ObjectDisposedException) { }
    }

    private static KvmHostException NotFound(string program, Exception? inner) =>
        new(ErrorIds.CommandNotFound, FailureKind.NotInstalled,
            $"The program '{program}' was not found on PATH.", program,
            $"Install the package that provides '{program}', or check PATH.", inner);

    internal static string? FindOnPath(string program)
    {
        if (program.Contains('/')) return File.Exists(program) ? program : null;
        string path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        return null;
    }
}
