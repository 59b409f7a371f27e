using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Sysctl;

/// <summary>
/// The running kernel's sysctl values under /proc/sys. Only <see cref="RunningSystem"/> has one: for another
/// root the kernel is not that system's. /proc/sys/net belongs to the caller's network namespace, so this reads
/// and writes the namespace the process runs in (ip netns exec, unshare --net). Writes use a plain
/// FileStream: PowerShell's Set-Content on /proc/sys silently writes nothing, and every write is read
/// back because the kernel may clamp or refuse a value without an error.
/// </summary>
internal sealed class KernelParameters
{
    /// <summary>/proc of the running system: the kernel's parameters are never read under another root.</summary>
    private readonly HostRoot _proc = HostRoot.Live;

    internal KernelParameters() { }

    public bool Exists(string key) => _proc.FileExists(SysctlKey.ProcPath(key));

    /// <summary>The current value (trimmed), or null when the key does not exist.</summary>
    public string? Read(string key)
    {
        try
        {
            return _proc.TryReadText(SysctlKey.ProcPath(key), 64 * 1024)?.Trim();
        }
        catch (KvmHostException e) when (e.ErrorId == ErrorIds.NotADirectory)
        {
            return null; // a directory (a glob's parent), not a parameter
        }
    }

    /// <summary>Writes the value and verifies it by reading it back.</summary>
    public void Write(string key, string value)
    {
        string path = SysctlKey.ProcPath(key);
        if (!File.Exists(path))
            throw NotFound(key);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            stream.Write(Encoding.ASCII.GetBytes(value + "\n"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KvmHostException(ErrorIds.KernelParameterNotApplied,
                e is UnauthorizedAccessException ? FailureKind.PermissionDenied : FailureKind.WriteError,
                $"Could not write {value} to {path}: {e.Message}", path,
                "Run as root; in a container, /proc/sys may be read-only (then set it on the host or with --sysctl).", e);
        }
        string? readBack = Read(key);
        if (readBack != value)
            throw new KvmHostException(ErrorIds.KernelParameterNotApplied, FailureKind.InvalidOperation,
                $"Wrote {value} to {path} but the kernel reports {readBack ?? "nothing"}.", path,
                "Something else manages this value (a container runtime, a security policy); check dmesg.");
    }

    public static KvmHostException NotFound(string key) =>
        new(ErrorIds.KernelParameterNotFound, FailureKind.ObjectNotFound,
            $"The running kernel has no {SysctlKey.ToDotted(key)} ({SysctlKey.ProcPath(key)} does not exist).",
            SysctlKey.ProcPath(key),
            key.StartsWith("net/ipv6/", StringComparison.Ordinal)
                ? "IPv6 is disabled in this kernel (ipv6.disable=1); use -AddressFamily IPv4."
                : key.StartsWith("net/bridge/", StringComparison.Ordinal)
                    ? "Load br_netfilter first (modprobe br_netfilter)."
                    : "Check the kernel's configuration.");
}
