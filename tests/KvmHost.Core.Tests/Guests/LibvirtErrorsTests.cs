using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>libvirt error codes (virterror.h) to the module's ids: by code, never by message text.</summary>
public class LibvirtErrorsTests
{
    private const string Uri = "qemu:///system";

    [Theory]
    [InlineData(42, "GuestNotFound", FailureKind.ObjectNotFound)]
    [InlineData(55, "GuestStateInvalid", FailureKind.InvalidOperation)]
    [InlineData(45, "LibvirtAccessDenied", FailureKind.PermissionDenied)]
    [InlineData(79, "LibvirtAccessDenied", FailureKind.PermissionDenied)]
    [InlineData(88, "LibvirtAccessDenied", FailureKind.PermissionDenied)]
    [InlineData(94, "LibvirtAccessDenied", FailureKind.PermissionDenied)]
    [InlineData(29, "LibvirtAccessDenied", FailureKind.PermissionDenied)]
    [InlineData(3, "LibvirtOperationUnsupported", FailureKind.NotImplemented)]
    [InlineData(84, "LibvirtOperationUnsupported", FailureKind.NotImplemented)]
    [InlineData(74, "LibvirtOperationUnsupported", FailureKind.NotImplemented)]
    [InlineData(5, "LibvirtNotReachable", FailureKind.ResourceUnavailable)]
    [InlineData(6, "LibvirtNotReachable", FailureKind.ResourceUnavailable)]
    [InlineData(39, "LibvirtNotReachable", FailureKind.ResourceUnavailable)]
    [InlineData(85, "LibvirtNotReachable", FailureKind.ResourceUnavailable)]
    [InlineData(68, "LibvirtCallFailed", FailureKind.OperationTimeout)]
    [InlineData(87, "LibvirtCallFailed", FailureKind.ResourceBusy)]
    [InlineData(8, "LibvirtCallFailed", FailureKind.InvalidArgument)]
    [InlineData(1, "LibvirtCallFailed", FailureKind.InvalidOperation)]
    [InlineData(9, "LibvirtCallFailed", FailureKind.InvalidOperation)]
    public void A_failed_call_gets_its_id_from_the_error_code(int code, string errorId, FailureKind kind)
    {
        var failure = LibvirtErrors.ForCall(new LibvirtError(code, 10, "message in any language", 0), Uri, "virDomainSuspend", "web1");
        Assert.Equal(errorId, failure.ErrorId);
        Assert.Equal(kind, failure.Kind);
        Assert.Equal("web1", failure.Target);
        Assert.Contains("message in any language", failure.Message);
    }

    [Fact]
    public void A_state_refusal_names_the_state_the_guest_is_in()
    {
        var failure = LibvirtErrors.ForCall(new LibvirtError(55, 10, "Requested operation is not valid: domain is not running", 0),
            Uri, "virDomainSuspend", "web1", "ShutOff (Destroyed)");
        Assert.Equal(ErrorIds.GuestStateInvalid, failure.ErrorId);
        Assert.Contains("ShutOff (Destroyed)", failure.Message);
        Assert.NotNull(failure.Hint);
    }

    [Fact]
    public void A_call_about_no_guest_targets_the_uri()
    {
        var failure = LibvirtErrors.ForCall(new LibvirtError(1, 7, "boom", 0), Uri, "virConnectListAllDomains", null);
        Assert.Equal(Uri, failure.Target);
    }

    [Theory]
    [InlineData(38, 13, "LibvirtAccessDenied")] // EACCES on the socket
    [InlineData(38, 1, "LibvirtAccessDenied")]  // EPERM
    [InlineData(38, 2, "LibvirtNotReachable")]  // ENOENT: no socket, no daemon
    [InlineData(38, 111, "LibvirtNotReachable")] // ECONNREFUSED
    [InlineData(45, 0, "LibvirtAccessDenied")]
    [InlineData(5, 0, "LibvirtNotReachable")]
    [InlineData(1, 0, "LibvirtNotReachable")]
    public void A_failed_connection_is_either_refused_or_unreachable(int code, int errno, string errorId)
    {
        var failure = LibvirtErrors.ForConnect(new LibvirtError(code, 7, "Failed to connect socket", errno), Uri);
        Assert.Equal(errorId, failure.ErrorId);
        Assert.Equal(Uri, failure.Target);
        Assert.False(string.IsNullOrEmpty(failure.Hint));
    }

    [Fact]
    public void Unreachable_names_Enable_Libvirtd()
    {
        var failure = LibvirtErrors.ForConnect(new LibvirtError(38, 7, "No such file or directory", 2), Uri);
        Assert.Contains("Enable-Libvirtd", failure.Hint);
    }

    [Fact]
    public void A_missing_library_names_the_package_to_install()
    {
        var failure = LibvirtErrors.LibraryMissing();
        Assert.Equal(ErrorIds.LibvirtNotInstalled, failure.ErrorId);
        Assert.Equal(FailureKind.NotInstalled, failure.Kind);
        Assert.Equal("libvirt.so.0", failure.Target);
        Assert.Matches("libvirt0|libvirt-libs", failure.Hint!);
    }
}
