namespace KvmHost.Core.Platform;

/// <summary>
/// Linux errno values the module tells apart. On Unix, .NET raises an IOException whose HResult is the raw errno for
/// every error that has no exception type of its own (ENOENT and EACCES do: FileNotFound/DirectoryNotFound and
/// UnauthorizedAccess), so failures are told apart by number, never by their (localizable) message text.
/// The values are the generic ones of x86_64, aarch64, ppc64le and s390x alike.
/// </summary>
internal static class Errno
{
    /// <summary>ENOTDIR: a path component is not a directory.</summary>
    public const int NotADirectory = 20;

    /// <summary>ENOSPC: no space left on the device.</summary>
    public const int NoSpace = 28;

    /// <summary>EROFS: the file system is mounted read-only.</summary>
    public const int ReadOnlyFileSystem = 30;

    /// <summary>ELOOP: too many levels of symbolic links.</summary>
    public const int SymlinkLoop = 40;

    public static bool Is(IOException exception, int errno) => exception.HResult == errno;
}
