namespace KvmHost.Core.Platform;

/// <summary>
/// Stable error identifiers. Each area declares its own in a partial of this class, next to the code
/// that raises them; the value is the name, so a rename is visible in review.
/// </summary>
public static partial class ErrorIds
{
    public const string RootNotFound = nameof(RootNotFound);
    public const string RootNotDirectory = nameof(RootNotDirectory);
    public const string PathEscapesRoot = nameof(PathEscapesRoot);
    public const string PathNotAbsolute = nameof(PathNotAbsolute);
    public const string SymlinkLoop = nameof(SymlinkLoop);
    public const string FileUnreadable = nameof(FileUnreadable);
    public const string FileNotText = nameof(FileNotText);
    public const string FileTooLarge = nameof(FileTooLarge);
    public const string FileWriteFailed = nameof(FileWriteFailed);
    public const string NotADirectory = nameof(NotADirectory);
    public const string CommandNotFound = nameof(CommandNotFound);
    public const string CommandTimedOut = nameof(CommandTimedOut);
    public const string CommandFailed = nameof(CommandFailed);
    public const string NotRoot = nameof(NotRoot);
    public const string OsReleaseNotFound = nameof(OsReleaseNotFound);
    public const string UnsupportedRelease = nameof(UnsupportedRelease);
    public const string LockTimeout = nameof(LockTimeout);
}
