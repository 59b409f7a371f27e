using KvmHost.Core.Packages;
using KvmHost.Core.Platform;
using KvmHost.Core.Tests.Packages;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

/// <summary>A timed-out program's hint names -TimeoutSec only where the cmdlet has one.</summary>
public sealed class TimeoutHintTests
{
    [Fact]
    public void A_timeout_tells_how_to_give_more_time_only_where_the_caller_says_how()
    {
        var runner = new CommandRunner();
        var plain = Assert.Throws<KvmHostException>(() => runner.Run(
            new CommandRequest("sleep", "30") { Timeout = TimeSpan.FromMilliseconds(200) }, CancellationToken.None));
        Assert.Equal(ErrorIds.CommandTimedOut, plain.ErrorId);
        Assert.DoesNotContain("-TimeoutSec", plain.Hint, StringComparison.Ordinal);

        var told = Assert.Throws<KvmHostException>(() => runner.Run(
            new CommandRequest("sleep", "30") { Timeout = TimeSpan.FromMilliseconds(200), TimeoutHint = "Raise -TimeoutSec." }, CancellationToken.None));
        Assert.Equal("Raise -TimeoutSec.", told.Hint);
    }

    [Fact]
    public void The_package_manager_runs_under_the_cmdlets_TimeoutSec_and_says_so_and_the_query_does_not()
    {
        using var scratch = new ScratchRoot().PutFixture("/etc/os-release", "os-release/rocky-9.3.os-release").Put("/root/.rpmdb/rpmdb.sqlite", "");
        var runner = new ScriptedRunner().On("rpm", "--eval", 0, "/root/.rpmdb\n").WithRpmDatabase(new Dictionary<string, string>());
        var release = ReleaseProfile.Detect(scratch.Root);
        var installer = new PackageInstaller(HostSystem.Open(scratch.Root, runner, CancellationToken.None), release);

        var plan = installer.Plan(PackageSet.Resolve(release, null, false), new InstallOptions { Timeout = TimeSpan.FromSeconds(90) }, CancellationToken.None);

        Assert.Equal(TimeSpan.FromSeconds(90), plan.Install!.Timeout);
        Assert.Contains("-TimeoutSec", plan.Install.TimeoutHint, StringComparison.Ordinal);
        Assert.All(runner.Requests, query => Assert.DoesNotContain("-TimeoutSec", query.TimeoutHint, StringComparison.Ordinal));
    }
}
