using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

public class HostLockTests
{
    [Fact]
    public void A_second_holder_waits_and_times_out_with_LockTimeout()
    {
        using var scratch = new ScratchRoot();
        using var first = HostLock.Acquire(scratch.Root, TimeSpan.FromSeconds(1), CancellationToken.None);
        // flock locks belong to the open file description, so a second open in the same process contends too.
        var e = Assert.Throws<KvmHostException>(() => HostLock.Acquire(scratch.Root, TimeSpan.FromMilliseconds(200), CancellationToken.None));
        Assert.Equal(ErrorIds.LockTimeout, e.ErrorId);
    }

    [Fact]
    public void Releasing_lets_the_next_holder_in()
    {
        using var scratch = new ScratchRoot();
        HostLock.Acquire(scratch.Root, TimeSpan.FromSeconds(1), CancellationToken.None).Dispose();
        using var again = HostLock.Acquire(scratch.Root, TimeSpan.FromMilliseconds(200), CancellationToken.None);
    }
}
