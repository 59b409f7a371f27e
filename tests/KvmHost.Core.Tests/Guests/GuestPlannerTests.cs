using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Every state against every lifecycle cmdlet: what is done, what is already so, what is refused.</summary>
public class GuestPlannerTests
{
    private static GuestAction? Act(Func<GuestStep> plan)
    {
        try { return plan().Action; }
        catch (KvmHostException e) when (e.ErrorId == ErrorIds.GuestStateInvalid) { return null; }
    }

    [Theory]
    [InlineData(GuestState.ShutOff, GuestAction.Start)]
    [InlineData(GuestState.Running, GuestAction.None)]
    [InlineData(GuestState.Blocked, GuestAction.None)]
    [InlineData(GuestState.Paused, GuestAction.Resume)]
    [InlineData(GuestState.PMSuspended, GuestAction.Wakeup)]
    [InlineData(GuestState.Crashed, null)]
    [InlineData(GuestState.ShuttingDown, null)]
    [InlineData(GuestState.NoState, null)]
    public void Start(GuestState state, GuestAction? expected) => Assert.Equal(expected, Act(() => GuestPlanner.Start("g", state)));

    [Theory]
    [InlineData(GuestState.Running, GuestStopMode.Graceful, GuestAction.Shutdown)]
    [InlineData(GuestState.ShuttingDown, GuestStopMode.Graceful, GuestAction.Shutdown)]
    [InlineData(GuestState.ShutOff, GuestStopMode.Graceful, GuestAction.None)]
    [InlineData(GuestState.ShutOff, GuestStopMode.TurnOff, GuestAction.None)]
    [InlineData(GuestState.ShutOff, GuestStopMode.Save, GuestAction.None)]
    [InlineData(GuestState.Paused, GuestStopMode.Graceful, null)]
    [InlineData(GuestState.Crashed, GuestStopMode.Graceful, null)]
    [InlineData(GuestState.PMSuspended, GuestStopMode.Graceful, null)]
    [InlineData(GuestState.Running, GuestStopMode.Force, GuestAction.Shutdown)]
    [InlineData(GuestState.Paused, GuestStopMode.Force, GuestAction.TurnOff)]
    [InlineData(GuestState.Crashed, GuestStopMode.Force, GuestAction.TurnOff)]
    [InlineData(GuestState.Running, GuestStopMode.TurnOff, GuestAction.TurnOff)]
    [InlineData(GuestState.Paused, GuestStopMode.TurnOff, GuestAction.TurnOff)]
    [InlineData(GuestState.Running, GuestStopMode.Save, GuestAction.Save)]
    [InlineData(GuestState.Paused, GuestStopMode.Save, GuestAction.Save)]
    public void Stop(GuestState state, GuestStopMode mode, GuestAction? expected) => Assert.Equal(expected, Act(() => GuestPlanner.Stop("g", state, mode)));

    [Theory]
    [InlineData(GuestState.Running, GuestRestartMode.Graceful, GuestAction.Reboot)]
    [InlineData(GuestState.Running, GuestRestartMode.Reset, GuestAction.Reset)]
    [InlineData(GuestState.ShutOff, GuestRestartMode.Graceful, null)]
    [InlineData(GuestState.ShutOff, GuestRestartMode.Reset, null)]
    [InlineData(GuestState.Paused, GuestRestartMode.Graceful, null)]
    public void Restart(GuestState state, GuestRestartMode mode, GuestAction? expected) => Assert.Equal(expected, Act(() => GuestPlanner.Restart("g", state, mode)));

    [Theory]
    [InlineData(GuestState.Running, GuestAction.Suspend)]
    [InlineData(GuestState.Paused, GuestAction.None)]
    [InlineData(GuestState.ShutOff, null)]
    [InlineData(GuestState.PMSuspended, null)]
    public void Suspend(GuestState state, GuestAction? expected) => Assert.Equal(expected, Act(() => GuestPlanner.Suspend("g", state)));

    [Theory]
    [InlineData(GuestState.Paused, GuestAction.Resume)]
    [InlineData(GuestState.Running, GuestAction.None)]
    [InlineData(GuestState.PMSuspended, GuestAction.Wakeup)]
    [InlineData(GuestState.ShutOff, null)]
    public void Resume(GuestState state, GuestAction? expected) => Assert.Equal(expected, Act(() => GuestPlanner.Resume("g", state)));

    [Theory]
    [InlineData(false, true, GuestAction.EnableAutostart)]
    [InlineData(true, false, GuestAction.DisableAutostart)]
    [InlineData(true, true, GuestAction.None)]
    [InlineData(false, false, GuestAction.None)]
    public void Autostart(bool current, bool wanted, GuestAction expected) => Assert.Equal(expected, GuestPlanner.Autostart("g", current, wanted).Action);

    [Fact]
    public void A_refusal_names_the_guest_its_state_and_what_would_work()
    {
        var failure = Assert.Throws<KvmHostException>(() => GuestPlanner.Stop("web1", GuestState.Paused, GuestStopMode.Graceful));
        Assert.Equal(ErrorIds.GuestStateInvalid, failure.ErrorId);
        Assert.Equal(FailureKind.InvalidOperation, failure.Kind);
        Assert.Equal("web1", failure.Target);
        Assert.Contains("Paused", failure.Message);
        Assert.Contains("-TurnOff", failure.Hint);
    }

    [Theory]
    [InlineData(GuestState.Running, 1, "Booted")]
    [InlineData(GuestState.ShutOff, 2, "Destroyed")]
    [InlineData(GuestState.ShutOff, 5, "Saved")]
    [InlineData(GuestState.Paused, 1, "User")]
    [InlineData(GuestState.Crashed, 1, "Panicked")]
    [InlineData(GuestState.Running, 99, "Reason99")]
    [InlineData(GuestState.PMSuspended, 0, "Unknown")]
    public void Reasons_read_as_words(GuestState state, int reason, string expected) => Assert.Equal(expected, GuestStateReasons.Describe(state, reason));
}
