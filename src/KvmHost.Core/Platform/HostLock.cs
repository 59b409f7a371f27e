using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>
/// An advisory lock (flock) per root, taken around every read-modify-write of host configuration,
/// so that parallel runs (a fleet script, two admins) queue instead of losing each other's edits.
/// The kernel drops the lock when the process dies, so a killed run never leaves it stuck.
/// The lock is re-entrant on one thread: a pipeline runs every command on one thread, and the next command of
/// a pipeline runs inside the previous one's output call (New-HostBridge ... | Set-IpForwarding), while that one
/// still holds the lock it wrote its finished change under. It joins that hold instead of waiting for it. Other
/// threads (ForEach-Object -Parallel, other runspaces) and other processes open the file anew, and flock makes
/// them wait, because flock locks belong to the open file description.
/// </summary>
public sealed class HostLock : IDisposable
{
    /// <summary>The locks this thread holds, by lock file; shared with the HostLock objects that hold them.</summary>
    [ThreadStatic]
    private static Dictionary<string, Hold>? _threadHolds;

    private readonly Dictionary<string, Hold> _holds;
    private readonly string _path;
    private Hold? _hold;

    private HostLock(Dictionary<string, Hold> holds, string path, Hold hold)
    {
        _holds = holds;
        _path = path;
        _hold = hold;
    }

    /// <summary>One flock on one open file, and how many HostLock objects of the thread hold it.</summary>
    private sealed class Hold(int fd)
    {
        public int Fd { get; } = fd;
        public int Holders { get; set; } = 1;
    }

    public const string LockPath = "/run/lock/kvmhost.lock";

    /// <summary>How long a configuration change waits for another KvmHost run to finish: edits take milliseconds.</summary>
    public static readonly TimeSpan ConfigurationWait = TimeSpan.FromSeconds(30);

    /// <summary>How long a package install waits: the run holding the lock may be in a package transaction of minutes.</summary>
    public static readonly TimeSpan PackageTransactionWait = TimeSpan.FromMinutes(5);

    /// <summary>True when this thread holds the lock of the root (a command further up the pipeline took it).</summary>
    internal static bool IsHeldByThisThread(HostRoot root) => _threadHolds?.ContainsKey(root.Resolve(LockPath)) == true;

    public static HostLock Acquire(HostRoot root, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string hostPath = root.Resolve(LockPath);
        var holds = _threadHolds ??= new Dictionary<string, Hold>(StringComparer.Ordinal);
        lock (holds)
        {
            if (holds.TryGetValue(hostPath, out var held))
            {
                held.Holders++;
                return new HostLock(holds, hostPath, held);
            }
        }
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
        var hold = new Hold(fd);
        lock (holds) holds[hostPath] = hold;
        return new HostLock(holds, hostPath, hold);
    }

    private static KvmHostException CannotOpen(HostRoot root, string why, Exception? inner) =>
        new(ErrorIds.FileWriteFailed, FailureKind.WriteError,
            $"Cannot open the lock file {root.Describe(LockPath)}: {why}", LockPath, "Run as root, or check that the root is writable.", inner);

    public void Dispose()
    {
        lock (_holds)
        {
            if (_hold is not { } hold) return;
            _hold = null;
            if (--hold.Holders > 0) return;
            _holds.Remove(_path);
            NativeMethods.CloseDescriptor(hold.Fd); // closing the descriptor releases the flock
        }
    }
}
