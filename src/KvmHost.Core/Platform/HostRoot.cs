using System.Text;

namespace KvmHost.Core.Platform;

/// <summary>What a directory entry is once symbolic links are followed inside the root.</summary>
internal enum FileKind
{
    /// <summary>A regular file.</summary>
    File,
    Directory,
    /// <summary>A device, FIFO or socket; a link that is broken, loops or leads out of the root; or what cannot be inspected.</summary>
    Other,
}

/// <summary>One entry of <see cref="HostRoot.List"/>: its name, its path inside the root, and what it is.</summary>
internal sealed record DirectoryEntry(string Name, string Path, FileKind Kind);

/// <summary>A file <see cref="HostRoot.ReadTextFiles"/> passed over: why, and the failure when reading it failed.</summary>
internal sealed record SkippedFile(string Path, string Reason, KvmHostException? Failure)
{
    public override string ToString() => $"{Path}: {Reason}";
}

/// <summary>
/// The file-system root every read and write goes through: "/" for the running host, or a mounted
/// image or scratch tree. Paths inside the root are resolved the way chroot would see them (absolute
/// symlinks point back into the root), and a relative link that climbs above the root is refused
/// rather than followed, so a hostile image cannot make the module touch the host's own files.
/// </summary>
public sealed class HostRoot
{
    private const int MaxSymlinkHops = 40;

    private HostRoot(string path) => Path = path;

    /// <summary>The root as an absolute host path, without a trailing slash unless it is "/".</summary>
    public string Path { get; }

    /// <summary>
    /// True when the root is "/". Paths need no mapping then; whether the running system may be touched is
    /// decided from it once, by <see cref="HostSystem.Open"/> (an architecture test keeps every other reader out).
    /// </summary>
    internal bool IsLive => Path == "/";

    public static HostRoot Live { get; } = new("/");

    /// <summary>Opens a root directory, failing with a stable error if it is missing or not a directory.</summary>
    public static HostRoot Open(string path)
    {
        if (string.IsNullOrEmpty(path) || path.Contains('\0'))
            throw new KvmHostException(ErrorIds.RootNotFound, FailureKind.InvalidArgument,
                "The root path is empty or contains a NUL character.", path);
        string full = System.IO.Path.GetFullPath(path);
        if (full.Length > 1) full = full.TrimEnd('/');
        if (full == "/") return Live;

        try
        {
            var attributes = File.GetAttributes(full); // follows a symlink root, as mount points do
            // GetAttributes falls back to the link itself when the link cannot be followed: a loop.
            if (attributes.HasFlag(FileAttributes.ReparsePoint) && !attributes.HasFlag(FileAttributes.Directory) && IsLinkLoop(full))
                throw new KvmHostException(ErrorIds.SymlinkLoop, FailureKind.InvalidArgument,
                    $"The root '{full}' is a symbolic link loop.", full, "Pass the directory an image is mounted on.");
            if (!attributes.HasFlag(FileAttributes.Directory))
                throw new KvmHostException(ErrorIds.RootNotDirectory, FailureKind.InvalidArgument,
                    $"The root '{full}' is not a directory.", full, "Pass the directory an image is mounted on.");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KvmHostException(ErrorIds.RootNotFound, FailureKind.ObjectNotFound,
                $"The root '{full}' does not exist.", full, "Check the path, or mount the image first.", e);
        }
        catch (IOException e) when (Errno.Is(e, Errno.SymlinkLoop))
        {
            throw new KvmHostException(ErrorIds.SymlinkLoop, FailureKind.InvalidArgument,
                $"The root '{full}' is a symbolic link loop.", full, inner: e);
        }
        return new HostRoot(full);
    }

    private static bool IsLinkLoop(string path)
    {
        try
        {
            new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>
    /// Maps an absolute path as seen inside the root (e.g. "/etc/os-release") to the host path to open.
    /// Every symlink on the way is resolved inside the root; the last component is followed too unless
    /// <paramref name="followLast"/> is false (callers that replace a link itself).
    /// </summary>
    public string Resolve(string pathInRoot, bool followLast = true)
    {
        if (string.IsNullOrEmpty(pathInRoot) || pathInRoot[0] != '/')
            throw new KvmHostException(ErrorIds.PathNotAbsolute, FailureKind.InvalidArgument,
                $"The path '{pathInRoot}' must be absolute (start with '/').", pathInRoot);
        if (pathInRoot.Contains('\0'))
            throw new KvmHostException(ErrorIds.PathEscapesRoot, FailureKind.InvalidArgument,
                "The path contains a NUL character.", pathInRoot);
        // On the live system the kernel resolves links itself and nothing can leave "/".
        if (IsLive) return pathInRoot;
        return Walk(pathInRoot, followLast);
    }

    /// <summary>
    /// The path inside the root with every symlink followed (realpath inside the root), also on the
    /// live system: callers that must know which real file a link stands for (sysctl.d's
    /// 99-sysctl.conf -> ../sysctl.conf), or must write the target rather than replace the link.
    /// </summary>
    public string RealPath(string pathInRoot)
    {
        Resolve(pathInRoot); // validates: absolute, no NUL, does not escape
        string host = Walk(pathInRoot, followLast: true);
        return IsLive ? host : host.Length == Path.Length ? "/" : host[Path.Length..];
    }

    private string Walk(string pathInRoot, bool followLast)
    {
        var resolved = new List<string>();
        var pending = new LinkedList<string>(Split(pathInRoot));
        int hops = 0;
        while (pending.First is { } node)
        {
            string part = node.Value;
            pending.RemoveFirst();
            if (part == ".") continue;
            if (part == "..")
            {
                if (resolved.Count == 0)
                    throw new KvmHostException(ErrorIds.PathEscapesRoot, FailureKind.InvalidArgument,
                        $"The path '{pathInRoot}' leads outside the root '{Path}'.", pathInRoot,
                        "A relative link or '..' climbs above the root; the module refuses to follow it.");
                resolved.RemoveAt(resolved.Count - 1);
                continue;
            }

            string candidate = Join(resolved, part);
            bool isLast = pending.Count == 0;
            string? linkTarget = (isLast && !followLast) ? null : ReadLinkOrNull(candidate);
            if (linkTarget is null)
            {
                resolved.Add(part);
                continue;
            }
            if (++hops > MaxSymlinkHops)
                throw new KvmHostException(ErrorIds.SymlinkLoop, FailureKind.InvalidArgument,
                    $"Too many symbolic links while resolving '{pathInRoot}' under '{Path}'.", pathInRoot);
            if (linkTarget.StartsWith('/')) resolved.Clear();
            var targetParts = Split(linkTarget);
            for (int i = targetParts.Length - 1; i >= 0; i--) pending.AddFirst(targetParts[i]);
        }
        return Join(resolved, null);
    }

    /// <summary>The path inside the root of a host path that <see cref="Resolve"/> returned.</summary>
    internal string PathInRoot(string hostPath) => IsLive ? hostPath : hostPath[Path.Length..];

    /// <summary>Describes a path for messages: the path in the root, and the root when it is not "/".</summary>
    public string Describe(string pathInRoot) => IsLive ? pathInRoot : $"{pathInRoot} (under root {Path})";

    public bool FileExists(string pathInRoot) => File.Exists(Resolve(pathInRoot));

    public bool DirectoryExists(string pathInRoot) => Directory.Exists(Resolve(pathInRoot));

    /// <summary>Reads a whole file as bytes; null when it does not exist. /proc files report size 0, so read to EOF.</summary>
    public byte[]? TryReadBytes(string pathInRoot, int maxBytes = 16 * 1024 * 1024) =>
        WithReadErrorsMapped(pathInRoot, hostPath =>
        {
            using var handle = File.OpenHandle(hostPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            long reported = RandomAccess.GetLength(handle);
            if (reported > maxBytes) throw TooLarge(pathInRoot, maxBytes);
            var buffer = new byte[reported > 0 ? reported + 1 : 64 * 1024];
            int total = 0;
            while (true)
            {
                if (total == buffer.Length)
                {
                    if (buffer.Length >= maxBytes) throw TooLarge(pathInRoot, maxBytes);
                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, maxBytes + 1));
                }
                int read = RandomAccess.Read(handle, buffer.AsSpan(total), total);
                if (read == 0) break;
                total += read;
            }
            if (total > maxBytes) throw TooLarge(pathInRoot, maxBytes);
            return total == buffer.Length ? buffer : buffer.AsSpan(0, total).ToArray();
        });

    /// <summary>
    /// Hands a file to <paramref name="chunk"/> piece by piece, in order, without holding it whole (a parser that
    /// works as the bytes arrive needs no copy of an 8 MB /proc/cpuinfo); false when it does not exist.
    /// </summary>
    public bool TryReadChunks(string pathInRoot, ChunkHandler chunk, int maxBytes = 16 * 1024 * 1024) =>
        WithReadErrorsMapped<object>(pathInRoot, hostPath =>
        {
            using var handle = File.OpenHandle(hostPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(128 * 1024);
            try
            {
                long total = 0;
                int read;
                while ((read = RandomAccess.Read(handle, buffer, total)) > 0)
                {
                    total += read;
                    if (total > maxBytes) throw TooLarge(pathInRoot, maxBytes);
                    chunk(buffer.AsSpan(0, read));
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
            return ReadToEnd;
        }) is not null;

    private static readonly object ReadToEnd = new();

    /// <summary>Receives one piece of a file read by <see cref="TryReadChunks"/>; valid only during the call.</summary>
    public delegate void ChunkHandler(ReadOnlySpan<byte> chunk);

    /// <summary>Runs a read; a missing file gives null, every other failure a KvmHostException naming the path.</summary>
    private T? WithReadErrorsMapped<T>(string pathInRoot, Func<string, T> read) where T : class
    {
        string hostPath = Resolve(pathInRoot);
        try
        {
            return read(hostPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KvmHostException(ErrorIds.FileUnreadable, FailureKind.PermissionDenied,
                $"Cannot read {Describe(pathInRoot)}: permission denied.", pathInRoot,
                "Run as root (sudo pwsh), or check the file's mode.", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            if (Directory.Exists(hostPath))
                throw new KvmHostException(ErrorIds.NotADirectory, FailureKind.InvalidArgument,
                    $"{Describe(pathInRoot)} is a directory, not a file.", pathInRoot, inner: e);
            throw new KvmHostException(ErrorIds.FileUnreadable, FailureKind.ReadError,
                $"Cannot read {Describe(pathInRoot)}: {e.Message}", pathInRoot, inner: e);
        }
    }

    /// <summary>
    /// Lists a directory inside the root, sorted by name (ordinal): the one way the module looks into a folder.
    /// A directory that does not exist (or is not a directory) lists as empty; one that cannot be read fails with
    /// FileUnreadable, as a file would. Each entry's kind is decided with links followed inside the root, so a link that
    /// is broken, loops or climbs out of the root is <see cref="FileKind.Other"/> and never fails the listing.
    /// </summary>
    /// <param name="pattern">A file-name pattern with * and ?, as in ls.</param>
    internal IReadOnlyList<DirectoryEntry> List(string directoryInRoot, string pattern = "*")
    {
        string hostDirectory = Resolve(directoryInRoot);
        List<string> names;
        try
        {
            names = Directory.GetFileSystemEntries(hostDirectory, pattern).Select(p => System.IO.Path.GetFileName(p)).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
        catch (IOException e) when (Errno.Is(e, Errno.NotADirectory))
        {
            return [];
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KvmHostException(ErrorIds.FileUnreadable, FailureKind.PermissionDenied,
                $"Cannot list {Describe(directoryInRoot)}: permission denied.", directoryInRoot,
                "Run as root (sudo pwsh), or check the directory's mode.", e);
        }
        catch (IOException e)
        {
            throw new KvmHostException(ErrorIds.FileUnreadable, FailureKind.ReadError,
                $"Cannot list {Describe(directoryInRoot)}: {e.Message}", directoryInRoot, inner: e);
        }
        string prefix = directoryInRoot.TrimEnd('/');
        return names.Order(StringComparer.Ordinal)
            .Select(name => new DirectoryEntry(name, $"{prefix}/{name}", KindOf($"{prefix}/{name}")))
            .ToList();
    }

    /// <summary>
    /// Reads, as text, the regular files of a directory whose names <paramref name="include"/> accepts. What a daemon
    /// would not load as configuration is passed over, never a failure, and named in <paramref name="skipped"/>: a
    /// file that is not text, too large, or not readable by this user; a directory, device or broken link.
    /// </summary>
    internal IReadOnlyList<(string Path, string Text)> ReadTextFiles(string directoryInRoot, Func<string, bool> include,
        string pattern = "*", ICollection<SkippedFile>? skipped = null)
    {
        var files = new List<(string, string)>();
        foreach (var entry in List(directoryInRoot, pattern).Where(e => include(e.Name)))
        {
            if (entry.Kind != FileKind.File)
            {
                skipped?.Add(new SkippedFile(entry.Path, "not a regular file", null));
                continue;
            }
            try
            {
                if (TryReadText(entry.Path) is { } text) files.Add((entry.Path, text));
            }
            catch (KvmHostException e) when (e.ErrorId is ErrorIds.FileNotText or ErrorIds.FileUnreadable or ErrorIds.FileTooLarge)
            {
                skipped?.Add(new SkippedFile(entry.Path, e.Message, e));
            }
        }
        return files;
    }

    private FileKind KindOf(string pathInRoot)
    {
        try
        {
            return NativeMethods.KindOf(Resolve(pathInRoot)) ?? FileKind.Other;
        }
        catch (KvmHostException)
        {
            return FileKind.Other; // the link loops or leads out of the root
        }
    }

    /// <summary>Reads a text file (UTF-8); null when missing. A NUL byte means it is not a text file.</summary>
    public string? TryReadText(string pathInRoot, int maxBytes = 4 * 1024 * 1024)
    {
        byte[]? bytes = TryReadBytes(pathInRoot, maxBytes);
        if (bytes is null) return null;
        if (Array.IndexOf(bytes, (byte)0) >= 0)
            throw new KvmHostException(ErrorIds.FileNotText, FailureKind.InvalidData,
                $"{Describe(pathInRoot)} is not a text file (it contains NUL bytes).", pathInRoot,
                "Restore the file from its backup or the package that owns it.");
        return Encoding.UTF8.GetString(bytes);
    }

    private KvmHostException TooLarge(string pathInRoot, int maxBytes) =>
        new(ErrorIds.FileTooLarge, FailureKind.InvalidData,
            $"{Describe(pathInRoot)} is larger than {maxBytes / 1024} KiB; refusing to read it as configuration.",
            pathInRoot);

    private static string? ReadLinkOrNull(string hostPath)
    {
        try
        {
            var info = new FileInfo(hostPath);
            return info.Exists || Directory.Exists(hostPath) || info.LinkTarget is not null ? info.LinkTarget : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private string Join(List<string> parts, string? last)
    {
        var builder = new StringBuilder(Path == "/" ? string.Empty : Path);
        foreach (string p in parts) builder.Append('/').Append(p);
        if (last is not null) builder.Append('/').Append(last);
        return builder.Length == 0 ? "/" : builder.ToString();
    }

    private static string[] Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
