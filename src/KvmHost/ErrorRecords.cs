using System.Management.Automation;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>The one place a core failure becomes a PowerShell ErrorRecord.</summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(KvmHostException failure)
    {
        var record = new ErrorRecord(failure, failure.ErrorId, CategoryOf(failure.Kind), failure.Target);
        if (failure.Hint is not null)
            record.ErrorDetails = new ErrorDetails(failure.Message) { RecommendedAction = failure.Hint };
        return record;
    }

    public static ErrorCategory CategoryOf(FailureKind kind) => kind switch
    {
        FailureKind.InvalidArgument => ErrorCategory.InvalidArgument,
        FailureKind.InvalidData => ErrorCategory.InvalidData,
        FailureKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        FailureKind.NotInstalled => ErrorCategory.NotInstalled,
        FailureKind.PermissionDenied => ErrorCategory.PermissionDenied,
        FailureKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        FailureKind.ResourceBusy => ErrorCategory.ResourceBusy,
        FailureKind.InvalidOperation => ErrorCategory.InvalidOperation,
        FailureKind.OperationTimeout => ErrorCategory.OperationTimeout,
        FailureKind.WriteError => ErrorCategory.WriteError,
        FailureKind.ReadError => ErrorCategory.ReadError,
        FailureKind.NotImplemented => ErrorCategory.NotImplemented,
        _ => ErrorCategory.NotSpecified,
    };
}
