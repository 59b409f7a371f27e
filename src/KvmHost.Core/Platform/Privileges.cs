namespace KvmHost.Core.Platform;

public static class Privileges
{
    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Fails before anything is read or written when changing the running system without root (an image needs none).</summary>
    public static void RequireRootFor(HostSystem host, string action)
    {
        if (MissingRootFor(host, action) is { } failure) throw failure;
    }

    /// <summary>The NotRoot failure a real run would stop with, or null: for previews that list what blocks a real run.</summary>
    public static KvmHostException? MissingRootFor(HostSystem host, string action) =>
        host.Running is null || IsRoot ? null
            : new KvmHostException(ErrorIds.NotRoot, FailureKind.PermissionDenied,
                $"{action} needs root privileges; nothing was changed.", action,
                "Run pwsh as root (sudo pwsh), or prepare an image offline with -Root.");
}
