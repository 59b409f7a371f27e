using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

public class CommandRunnerTests
{
    [Fact]
    public void Arguments_reach_the_program_verbatim_without_a_shell()
    {
        var log = new List<string>();
        var runner = new CommandRunner(log.Add);
        var result = runner.Run(new CommandRequest("printf", "%s|", "a b", "$(id)", "; rm -rf /"), CancellationToken.None);
        Assert.True(result.Succeeded);
        Assert.Equal("a b|$(id)|; rm -rf /|", result.StandardOutput.TrimEnd('\n'));
        Assert.Equal(1, runner.StartedCount);
        Assert.Contains("printf '%s|' 'a b' '$(id)' '; rm -rf /'", Assert.Single(log));
    }

    [Fact]
    public void Exit_code_and_stderr_are_captured_and_EnsureSuccess_names_them()
    {
        var result = new CommandRunner().Run(new CommandRequest("sh", "-c", "echo oops >&2; exit 3"), CancellationToken.None);
        Assert.Equal(3, result.ExitCode);
        var e = Assert.Throws<KvmHostException>(() => result.EnsureSuccess());
        Assert.Equal(ErrorIds.CommandFailed, e.ErrorId);
        Assert.Contains("exit code 3", e.Message);
        Assert.Contains("oops", e.Message);
    }

    [Fact]
    public void Output_lines_are_delivered_on_the_calling_thread()
    {
        int caller = Environment.CurrentManagedThreadId;
        var threads = new List<int>();
        var lines = new List<string>();
        new CommandRunner().Run(new CommandRequest("seq", "1", "3")
        {
            OnOutputLine = line => { lines.Add(line); threads.Add(Environment.CurrentManagedThreadId); },
        }, CancellationToken.None);
        Assert.Equal(["1", "2", "3"], lines);
        Assert.All(threads, t => Assert.Equal(caller, t));
    }

    [Fact]
    public void Standard_input_is_passed()
    {
        var result = new CommandRunner().Run(new CommandRequest("cat") { StandardInput = "hello\n" }, CancellationToken.None);
        Assert.Equal("hello\n", result.StandardOutput);
    }

    [Fact]
    public void A_missing_program_is_CommandNotFound()
    {
        var e = Assert.Throws<KvmHostException>(() => new CommandRunner().Run(new CommandRequest("kvmhost-no-such-program"), CancellationToken.None));
        Assert.Equal(ErrorIds.CommandNotFound, e.ErrorId);
        Assert.Equal(FailureKind.NotInstalled, e.Kind);
    }

    [Fact]
    public void A_program_past_its_timeout_is_killed_with_its_children()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<KvmHostException>(() => new CommandRunner().Run(
            new CommandRequest("sh", "-c", "sleep 30 & sleep 30; wait") { Timeout = TimeSpan.FromMilliseconds(300) }, CancellationToken.None));
        Assert.Equal(ErrorIds.CommandTimedOut, e.ErrorId);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Cancellation_stops_the_program()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => new CommandRunner().Run(new CommandRequest("sleep", "30"), cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void With_a_grace_period_cancellation_interrupts_first_so_the_program_can_clean_up()
    {
        using var scratch = new ScratchRoot();
        string marker = scratch.HostPath("/interrupted");
        // Like rpm under dnf: it finishes what it is doing on SIGINT, then exits by itself.
        string script = $"trap 'echo cleaned > {marker}; exit 130' INT; while :; do sleep 0.05; done";
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Assert.ThrowsAny<OperationCanceledException>(() => new CommandRunner().Run(
            new CommandRequest("sh", "-c", script) { InterruptGracePeriod = TimeSpan.FromSeconds(10) }, cancel.Token));
        Assert.Equal("cleaned", File.ReadAllText(marker).Trim());

        string killedMarker = scratch.HostPath("/killed");
        using var cancelAgain = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Assert.ThrowsAny<OperationCanceledException>(() => new CommandRunner().Run(
            new CommandRequest("sh", "-c", script.Replace(marker, killedMarker)), cancelAgain.Token));
        Assert.False(File.Exists(killedMarker)); // without a grace period it is killed at once
    }

    [Fact]
    public void Programs_start_with_every_signal_at_its_default_and_none_blocked()
    {
        // .NET ignores SIGPIPE itself and keeps an inherited SIG_IGN (a background job's SIGINT) for its
        // children; the kernel shows what the child really got.
        var status = new CommandRunner().Run(new CommandRequest("cat", "/proc/self/status"), CancellationToken.None).StandardOutput;
        Assert.Contains("SigIgn:\t0000000000000000", status);
        Assert.Contains("SigBlk:\t0000000000000000", status);
    }

    [Fact]
    public void A_program_with_a_large_output_and_arguments_is_read_to_the_end()
    {
        var result = new CommandRunner().Run(new CommandRequest("seq", "1", "200000"), CancellationToken.None);
        Assert.Equal(200000, result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.EndsWith("200000\n", result.StandardOutput);
    }

    [Fact]
    public void A_program_killed_by_a_signal_exits_with_128_plus_the_signal()
    {
        var result = new CommandRunner().Run(new CommandRequest("sh", "-c", "kill -TERM $$"), CancellationToken.None);
        Assert.Equal(128 + 15, result.ExitCode);
    }

    [Fact]
    public void The_locale_is_pinned_so_output_can_be_parsed()
    {
        var result = new CommandRunner().Run(new CommandRequest("sh", "-c", "echo $LC_ALL"), CancellationToken.None);
        Assert.Equal("C", result.StandardOutput.Trim());
    }

    [Fact]
    public void The_environment_is_passed_with_additions_and_removals()
    {
        var result = new CommandRunner().Run(new CommandRequest("sh", "-c", "echo \"${KVMHOST_TEST_ADDED}|${HOME-unset}|$PATH\"")
        {
            Environment = new Dictionary<string, string?> { ["KVMHOST_TEST_ADDED"] = "a b", ["HOME"] = null },
        }, CancellationToken.None);
        Assert.Equal($"a b|unset|{Environment.GetEnvironmentVariable("PATH")}", result.StandardOutput.Trim());
    }
}
