using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>
/// The few libc calls .NET has no API for: owners (statx/chown), directory fsync, hard links, flock,
/// access(2). statx is used because its layout is the same on every architecture.
/// </summary>
internal static partial class NativeMethods
{
    private const int AtFdcwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenWithMode(string path, int flags, uint mode);

    /// <summary>
    /// Opens (creating) a lock file with open(2) directly: .NET's own FileStream emulates FileShare with
    /// flock on the same descriptor, which would collide with the lock taken here.
    /// </summary>
    internal static int OpenLockFile(string path)
    {
        const int ReadWriteCreateCloexec = 0x2 | 0x40 | 0x80000; // O_RDWR | O_CREAT | O_CLOEXEC (same on x86_64 and aarch64)
        return OpenWithMode(path, ReadWriteCreateCloexec, 0x1a4 /* 0644 */);
    }

    internal static void CloseDescriptor(int fd) => Close(fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    internal const int LockExclusive = 2;
    internal const int LockNonBlocking = 4;
    internal const int LockUnlock = 8;

    /// <summary>Owner and group of a file (not following a final symlink), or null when it cannot be read.</summary>
    internal static (uint Uid, uint Gid)? GetOwner(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdcwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0) return null;
        uint uid = BitConverter.ToUInt32(buffer.Slice(20, 4));
        uint gid = BitConverter.ToUInt32(buffer.Slice(24, 4));
        return (uid, gid);
    }

    internal static bool SetOwner(string path, uint uid, uint gid) => Chown(path, uid, gid) == 0;

    /// <summary>What is at a path, symlinks followed (statx's stx_mode), or null when it cannot be inspected.</summary>
    internal static FileKind? KindOf(string path)
    {
        const uint StatxType = 0x1;
        const int FileTypeMask = 0xF000, RegularFile = 0x8000, DirectoryFile = 0x4000;
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdcwd, path, 0, StatxType, buffer) != 0) return null;
        return (BitConverter.ToUInt16(buffer.Slice(28, 2)) & FileTypeMask) switch
        {
            RegularFile => FileKind.File,
            DirectoryFile => FileKind.Directory,
            _ => FileKind.Other,
        };
    }

    /// <summary>fsync a directory so a rename in it survives a power cut.</summary>
    internal static void SyncDirectory(string directory)
    {
        const int ReadOnly = 0; // O_DIRECTORY differs between architectures; O_RDONLY opens a directory everywhere
        int fd = Open(directory, ReadOnly);
        if (fd < 0) return; // best effort: the data itself was already synced
        Fsync(fd);
        Close(fd);
    }

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long Sysconf(int name);

    /// <summary>sysconf(_SC_CLK_TCK): the unit of /proc/PID/stat's times (USER_HZ; 100 on most, not all, architectures).</summary>
    internal static long ClockTicksPerSecond => Sysconf(2) is var ticks and > 0 ? ticks : 100;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal would.</summary>
    internal static bool Interrupt(int pid) => Kill(pid, 2) == 0;

    internal static bool HardLink(string existing, string newPath) => Link(existing, newPath) == 0;

    /// <summary>access(2) with R_OK|W_OK: what the kernel would allow this process, groups and ACLs included.</summary>
    internal static bool CanReadWrite(string path) => Access(path, 4 | 2) == 0;

    /// <summary>access(2) with R_OK.</summary>
    internal static bool CanRead(string path) => Access(path, 4) == 0;
}
