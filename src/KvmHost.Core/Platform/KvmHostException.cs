namespace KvmHost.Core.Platform;

/// <summary>
/// What kind of failure happened. The cmdlet layer maps each kind to one PowerShell ErrorCategory,
/// so the core can say "permission denied" without knowing PowerShell.
/// </summary>
public enum FailureKind
{
    InvalidArgument,
    InvalidData,
    ObjectNotFound,
    NotInstalled,
    PermissionDenied,
    ResourceUnavailable,
    ResourceBusy,
    InvalidOperation,
    OperationTimeout,
    WriteError,
    ReadError,
    NotImplemented,
}

/// <summary>
/// The one failure type of the core. <see cref="ErrorId"/> is stable (tests and scripts match on it);
/// the message says what happened, <see cref="Hint"/> what the admin can do about it.
/// </summary>
public sealed class KvmHostException : Exception
{
    public KvmHostException(string errorId, FailureKind kind, string message, object? target = null,
        string? hint = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
        Hint = hint;
    }

    public string ErrorId { get; }
    public FailureKind Kind { get; }
    public object? Target { get; }
    public string? Hint { get; }
}
