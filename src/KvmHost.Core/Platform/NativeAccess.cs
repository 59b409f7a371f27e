namespace KvmHost.Core.Platform;

/// <summary>Public face of the few native checks other areas need.</summary>
public static class NativeAccess
{
    /// <summary>access(2) R_OK|W_OK: what the kernel would allow this process, groups and ACLs included.</summary>
    public static bool CanReadWrite(string hostPath) => NativeMethods.CanReadWrite(hostPath);

    /// <summary>access(2) R_OK: false for a missing file too, without an exception.</summary>
    public static bool CanRead(string hostPath) => NativeMethods.CanRead(hostPath);
}
