namespace KvmHost.Core.Platform;

public static class Privileges
{
    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Fails before anything is read or written when changing the live host without root.</summary>
    public static void RequireRootFor(HostRoot root, string action)
    {
        if (!root.IsLive || IsRoot) return;
        throw new KvmHostException(ErrorIds.NotRoot, FailureKind.PermissionDenied,
            $"{action} needs root privileges; nothing was changed.", action,
            "Run pwsh as root (sudo pwsh), or prepare an image offline with -Root.");
    }
}
