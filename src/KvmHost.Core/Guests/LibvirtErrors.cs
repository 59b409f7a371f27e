using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>What virGetLastError() said, copied before the next libvirt call on the thread can overwrite it.</summary>
internal readonly record struct LibvirtError(int Code, int Origin, string Message, int SystemErrno)
{
    public override string ToString() => $"{Message} (libvirt error {Code}, from {Origin})";
}

/// <summary>
/// libvirt's error codes (virterror.h's virErrorNumber; stable, additions only at the end) turned into the
/// module's stable ErrorIds. The id follows the code, never the message text, which libvirt translates.
/// </summary>
internal static class LibvirtErrors
{
    internal const int OperationFailed = 9;
    internal const int NoSupport = 3;
    internal const int UnknownHost = 4;
    internal const int NoConnect = 5;
    internal const int InvalidConnection = 6;
    internal const int InvalidArgument = 8;
    internal const int OperationDenied = 29;
    internal const int SystemError = 38;
    internal const int Rpc = 39;
    internal const int NoDomain = 42;
    internal const int AuthFailed = 45;
    internal const int OperationInvalid = 55;
    internal const int OperationTimeout = 68;
    internal const int ArgumentUnsupported = 74;
    internal const int AuthCancelled = 79;
    internal const int OperationUnsupported = 84;
    internal const int Ssh = 85;
    internal const int AgentUnresponsive = 86;
    internal const int ResourceBusy = 87;
    internal const int AccessDenied = 88;
    internal const int AuthUnavailable = 94;
    internal const int Libssh = 98;

    private const int Eperm = 1;
    private const int Eacces = 13;

    private const string ReachHint =
        "Check the URI (-Uri, else $env:LIBVIRT_DEFAULT_URI, else qemu:///system). On the host itself, Enable-Libvirtd enables and starts the daemon, and Get-Libvirtd shows why it does not answer.";

    private const string AccessHint =
        "Run as root, or as a member of the group that owns libvirt's socket (libvirt on RHEL and Debian) where polkit allows it; for a remote URI, check the remote user.";

    /// <summary>The error for a failed virConnectOpen*: the daemon is not there, or it refused us.</summary>
    public static KvmHostException ForConnect(LibvirtError error, string uri)
    {
        if (IsAccessProblem(error))
            return new KvmHostException(ErrorIds.LibvirtAccessDenied, FailureKind.PermissionDenied,
                $"libvirt at {uri} refused the connection: {error.Message}", uri, AccessHint);
        return new KvmHostException(ErrorIds.LibvirtNotReachable, FailureKind.ResourceUnavailable,
            $"libvirt does not answer at {uri}: {error.Message}", uri, ReachHint);
    }

    /// <summary>The error for a failed call on an open connection; <paramref name="guest"/> is the target when the call was about one.</summary>
    public static KvmHostException ForCall(LibvirtError error, string uri, string operation, string? guest, string? state = null)
    {
        object target = (object?)guest ?? uri;
        string about = guest is null ? $"{operation} on {uri}" : $"{operation} of guest '{guest}'";
        return error.Code switch
        {
            NoDomain => new KvmHostException(ErrorIds.GuestNotFound, FailureKind.ObjectNotFound,
                $"{about} failed: there is no such guest on {uri} (any more): {error.Message}", target,
                $"Get-KvmGuest -Uri '{uri}' lists the guests there."),
            OperationInvalid => new KvmHostException(ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation,
                $"{about} is not possible{(state is null ? string.Empty : $" while the guest is {state}")}: {error.Message}", target,
                "Get-KvmGuest shows State and StateReason; bring the guest into a state the operation accepts first."),
            AuthFailed or AuthCancelled or AuthUnavailable or AccessDenied or OperationDenied => new KvmHostException(
                ErrorIds.LibvirtAccessDenied, FailureKind.PermissionDenied, $"{about} was denied: {error.Message}", target, AccessHint),
            NoSupport or OperationUnsupported or ArgumentUnsupported => new KvmHostException(
                ErrorIds.LibvirtOperationUnsupported, FailureKind.NotImplemented,
                $"{about} is not supported by this hypervisor driver or libvirt version: {error.Message}", target,
                "Use a libvirt and hypervisor that support it, or another way to reach the same state."),
            NoConnect or InvalidConnection or Rpc or Ssh or Libssh or UnknownHost => new KvmHostException(
                ErrorIds.LibvirtNotReachable, FailureKind.ResourceUnavailable, $"{about} failed: libvirt at {uri} stopped answering: {error.Message}",
                target, ReachHint),
            SystemError when IsAccessProblem(error) => new KvmHostException(ErrorIds.LibvirtAccessDenied, FailureKind.PermissionDenied,
                $"{about} failed: {error.Message}", target, AccessHint),
            OperationTimeout => new KvmHostException(ErrorIds.LibvirtCallFailed, FailureKind.OperationTimeout,
                $"{about} timed out inside libvirt: {error.Message}", target, "The hypervisor or the guest is busy; try again, or look at the daemon's log."),
            ResourceBusy => new KvmHostException(ErrorIds.LibvirtCallFailed, FailureKind.ResourceBusy,
                $"{about} failed, a resource is busy: {error.Message}", target, "Another job holds the guest; try again when it is done."),
            InvalidArgument => new KvmHostException(ErrorIds.LibvirtCallFailed, FailureKind.InvalidArgument,
                $"{about} was refused by libvirt: {error.Message}", target),
            _ => new KvmHostException(ErrorIds.LibvirtCallFailed, FailureKind.InvalidOperation,
                $"{about} failed: {error.Message}", target, "The libvirt daemon's log (journalctl -u libvirtd or virtqemud) has the details."),
        };
    }

    /// <summary>libvirt.so.0 cannot be loaded: no libvirt client library on this machine.</summary>
    public static KvmHostException LibraryMissing()
    {
        string package = LibraryPackage();
        return new KvmHostException(ErrorIds.LibvirtNotInstalled, FailureKind.NotInstalled,
            $"libvirt's client library ({LibvirtNative.Soname}) is not installed on this machine, so no guest can be listed or managed.",
            LibvirtNative.Soname, $"Install {package} (Install-KvmPackages brings it with libvirt).");
    }

    /// <summary>The package that ships libvirt.so.0 on this machine's release; both names when the release is unknown.</summary>
    private static string LibraryPackage()
    {
        try
        {
            return ReleaseProfile.Detect(HostRoot.Live).Family switch
            {
                DistroFamily.Debian => "libvirt0 (apt-get install libvirt0)",
                _ => "libvirt-libs (dnf install libvirt-libs; yum on RHEL 7)",
            };
        }
        catch (KvmHostException)
        {
            return "libvirt-libs (RHEL, Fedora) or libvirt0 (Debian, Ubuntu)";
        }
    }

    private static bool IsAccessProblem(LibvirtError error) =>
        error.Code is AuthFailed or AuthCancelled or AuthUnavailable or AccessDenied or OperationDenied
        || (error.Code == SystemError && error.SystemErrno is Eacces or Eperm);
}
