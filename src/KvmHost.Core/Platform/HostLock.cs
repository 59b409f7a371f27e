using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>
/// An advisory lock (flock) per root, taken around every read-modify-write of host configuration,
/// so that parallel runs (a fleet script, two admins) queue instead of losing each other's edits.
/// The kernel drops the lock when the process dies, so a killed run never leaves it stuck.
/// </summary>
public sealed class HostLock : IDisposable
{
    private int _fd;

    private HostLock(int fd) => _fd = fd;

    public const string LockPath = "/run/lock/kvmhost.lock";

    /// <summary>How long a configuration change waits for another KvmHost run to finish: edits take milliseconds.</summary>
    public static readonly TimeSpan ConfigurationWait = TimeSpan.FromSeconds(30);

    /// <summary>How long a package install waits: the run holding the lock may be in a package transaction of minutes.</summary>
    public static readonly TimeSpan PackageTransactionWait = TimeSpan.FromMinutes(5);

    public static HostLock Acquire(HostRoot root, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string hostPath = root.Resolve(LockPath);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(hostPath)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotOpen(root, e.Message, e);
        }
        int fd = NativeMethods.OpenLockFile(hostPath);
        if (fd < 0) throw CannotOpen(root, Marshal.GetLastPInvokeErrorMessage(), null);

        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(5);
        while (NativeMethods.Flock(fd, NativeMethods.LockExclusive | NativeMethods.LockNonBlocking) != 0)
        {
            if (DateTime.UtcNow >= deadline)
            {
                NativeMethods.CloseDescriptor(fd);
                throw new KvmHostException(ErrorIds.LockTimeout, FailureKind.ResourceBusy,
                    $"Another KvmHost command has held {root.Describe(LockPath)} for more than {timeout.TotalSeconds:0.#} s.",
                    LockPath, $"Wait for the other run to finish (see 'fuser {LockPath}'), then try again.");
            }
            if (cancellationToken.WaitHandle.WaitOne(delay))
            {
                NativeMethods.CloseDescriptor(fd);
                cancellationToken.ThrowIfCancellationRequested();
            }
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 200));
        }
        return new HostLock(fd);
    }

    private static KvmHostException CannotOpen(HostRoot root, string why, Exception? inner) =>
        new(ErrorIds.FileWriteFailed, FailureKind.WriteError,
            $"Cannot open the lock file {root.Describe(LockPath)}: {why}", LockPath, "Run as root, or check that the root is writable.", inner);

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) NativeMethods.CloseDescriptor(fd); // closing the descriptor releases the flock
    }
}
