using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Waiting on several guests at once, against the test driver (states change only when told to).</summary>
public sealed class GuestWaiterTests : IDisposable
{
    private readonly LibvirtConnection _connection = LibvirtConnection.Open(LibvirtConnectionTests.WorldUri, LibvirtAccess.ReadWrite, CancellationToken.None);
    private readonly GuestCatalog _catalog;

    public GuestWaiterTests() => _catalog = GuestCatalog.List(_connection);

    public void Dispose()
    {
        _catalog.Dispose();
        _connection.Dispose();
    }

    private GuestEntry Guest(string name) => _catalog.FindByName(name)!;

    [Fact]
    public void Returns_at_once_for_guests_already_there_and_reports_the_others_at_the_deadline()
    {
        var progress = new List<GuestWaitProgress>();
        var outcomes = GuestWaiter.Wait([Guest("test"), Guest("test-state-paused")], GuestWaitCondition.Running,
            TimeSpan.FromMilliseconds(400), "waiting", progress.Add, CancellationToken.None);

        Assert.True(outcomes.Single(o => o.Guest.Name == "test").Reached);
        var paused = outcomes.Single(o => o.Guest.Name == "test-state-paused");
        Assert.False(paused.Reached);
        Assert.StartsWith("Paused", paused.LastState);
        Assert.NotEmpty(progress);
        Assert.All(progress, p => Assert.Contains("test-state-paused", p.Status));
    }

    [Fact]
    public void Sees_a_change_made_while_it_waits()
    {
        var paused = Guest("test-state-paused");
        using var later = Task.Delay(300).ContinueWith(_ =>
        {
            // another connection on the same world file would be a different world: use the same one
            GuestLifecycle.Apply(paused, GuestAction.Resume);
        });
        var outcome = Assert.Single(GuestWaiter.Wait([paused], GuestWaitCondition.Running, TimeSpan.FromSeconds(10), "waiting", null, CancellationToken.None));
        Assert.True(outcome.Reached);
    }

    [Fact]
    public void A_crashed_guest_will_not_run_by_waiting()
    {
        var outcome = Assert.Single(GuestWaiter.Wait([Guest("test-state-crashed")], GuestWaitCondition.Running, TimeSpan.FromSeconds(10), "w", null, CancellationToken.None));
        Assert.False(outcome.Reached);
        Assert.Equal("GuestStartFailed", outcome.Failure?.ErrorId);
    }

    [Fact]
    public void Stops_when_cancelled()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            GuestWaiter.Wait([Guest("test-state-paused")], GuestWaitCondition.Running, TimeSpan.FromMinutes(5), "w", null, cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1)); // not the five minutes
    }

    [Fact]
    public void An_address_is_waited_for_through_the_leases()
    {
        using var builtIn = LibvirtConnection.Open("test:///default", LibvirtAccess.ReadWrite, CancellationToken.None);
        using var catalog = GuestCatalog.List(builtIn);
        var outcome = Assert.Single(GuestWaiter.Wait(catalog.Guests, GuestWaitCondition.IPAddress, TimeSpan.FromSeconds(10), "w", null, CancellationToken.None));
        Assert.True(outcome.Reached);
    }
}
