using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

public class HostLockTests
{
    [Fact]
    public void A_holder_on_another_thread_waits_and_times_out_with_LockTimeout()
    {
        using var scratch = new ScratchRoot();
        using var first = HostLock.Acquire(scratch.Root, TimeSpan.FromSeconds(1), CancellationToken.None);
        // flock locks belong to the open file description, so a second open in the same process contends too.
        KvmHostException? failure = null;
        var other = new Thread(() =>
        {
            try { HostLock.Acquire(scratch.Root, TimeSpan.FromMilliseconds(200), CancellationToken.None).Dispose(); }
            catch (KvmHostException e) { failure = e; }
        });
        other.Start();
        other.Join();
        Assert.Equal(ErrorIds.LockTimeout, failure?.ErrorId);
    }

    [Fact]
    public void The_next_command_of_a_pipeline_joins_the_lock_its_thread_holds_and_the_file_stays_locked_until_the_first_lets_go()
    {
        using var scratch = new ScratchRoot();
        var outer = HostLock.Acquire(scratch.Root, TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.True(HostLock.IsHeldByThisThread(scratch.Root));
        // New-HostBridge still holds the lock while Set-IpForwarding runs inside its WriteObject, on the same thread.
        var inner = HostLock.Acquire(scratch.Root, TimeSpan.FromMilliseconds(200), CancellationToken.None);
        inner.Dispose();
        inner.Dispose(); // a second Dispose releases nothing more
        Assert.True(HostLock.IsHeldByThisThread(scratch.Root));
        Assert.False(OtherThreadGetsIt(scratch.Root), "the outer holder still holds the flock");
        outer.Dispose();
        Assert.False(HostLock.IsHeldByThisThread(scratch.Root));
        Assert.True(OtherThreadGetsIt(scratch.Root), "released when the last holder let go");
    }

    private static bool OtherThreadGetsIt(HostRoot root)
    {
        bool got = false;
        var other = new Thread(() =>
        {
            try { HostLock.Acquire(root, TimeSpan.FromMilliseconds(100), CancellationToken.None).Dispose(); got = true; }
            catch (KvmHostException) { }
        });
        other.Start();
        other.Join();
        return got;
    }

    [Fact]
    public void Releasing_lets_the_next_holder_in()
    {
        using var scratch = new ScratchRoot();
        HostLock.Acquire(scratch.Root, TimeSpan.FromSeconds(1), CancellationToken.None).Dispose();
        using var again = HostLock.Acquire(scratch.Root, TimeSpan.FromMilliseconds(200), CancellationToken.None);
    }
}
