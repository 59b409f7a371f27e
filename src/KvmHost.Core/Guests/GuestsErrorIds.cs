namespace KvmHost.Core.Platform;

public static partial class ErrorIds
{
    // LibvirtNotInstalled and LibvirtNotReachable (Services) are used here too: the same fact for the admin,
    // whether Enable-Libvirtd or Get-KvmGuest found it.
    public const string GuestNotFound = nameof(GuestNotFound);
    public const string GuestNameInvalid = nameof(GuestNameInvalid);
    public const string GuestStateInvalid = nameof(GuestStateInvalid);
    public const string GuestStartFailed = nameof(GuestStartFailed);
    public const string GuestShutdownTimedOut = nameof(GuestShutdownTimedOut);
    public const string GuestWaitTimedOut = nameof(GuestWaitTimedOut);
    public const string LibvirtUriInvalid = nameof(LibvirtUriInvalid);
    public const string LibvirtAccessDenied = nameof(LibvirtAccessDenied);
    public const string LibvirtOperationUnsupported = nameof(LibvirtOperationUnsupported);
    public const string LibvirtCallFailed = nameof(LibvirtCallFailed);
    public const string GuestParametersConflict = nameof(GuestParametersConflict);
}
