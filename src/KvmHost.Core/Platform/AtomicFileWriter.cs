using System.Text;

namespace KvmHost.Core.Platform;

/// <summary>What a write did. Paths are as seen inside the root.</summary>
public sealed record FileChange(string Path, bool Changed, bool Created, bool Deleted, string? BackupPath)
{
    public override string ToString() =>
        !Changed ? $"{Path} (unchanged)" : Deleted ? $"{Path} (removed, backup {BackupPath})"
        : Created ? $"{Path} (created)" : $"{Path} (replaced, backup {BackupPath})";
}

/// <summary>
/// The one way the module writes a configuration file. The new content goes to a temporary file in
/// the same directory (same file system, so the rename is atomic, and SELinux labels it like its
/// neighbours), is flushed to disk, gets the old file's mode and owner, and is renamed over the old
/// file. The old content stays as a hard-linked backup next to it, named so that systemd-sysctl
/// (*.conf only) and network-scripts (which skip *.bak) never load it. NetworkManager 1.42 does load
/// "x.nmconnection.kvmhost-STAMP.bak" as a profile, so writers of directories like that ask for a hidden
/// backup (".x.nmconnection.kvmhost-STAMP.bak"), which no reader loads.
/// A reader therefore sees the old file or the new one, never a partial one, even after SIGKILL.
/// </summary>
public sealed class AtomicFileWriter
{
    public const string BackupMarker = ".kvmhost-";
    private readonly HostRoot _root;
    private readonly Func<DateTime> _clock;

    public AtomicFileWriter(HostRoot root, Func<DateTime>? clock = null)
    {
        _root = root;
        _clock = clock ?? (() => DateTime.UtcNow);
    }

    /// <summary>Writes <paramref name="content"/> unless the file already holds exactly that.</summary>
    /// <param name="newFileMode">Mode for a file that does not exist yet; an existing file keeps its own.</param>
    /// <param name="hiddenBackup">Name the backup ".NAME.kvmhost-STAMP.bak": for directories whose readers load every
    /// file that is not hidden (NetworkManager 1.42 loads "x.nmconnection.kvmhost-STAMP.bak" as a profile).</param>
    public FileChange Write(string pathInRoot, string content, UnixFileMode newFileMode = Modes.ConfigFile, bool keepBackup = true, bool hiddenBackup = false)
        => Write(pathInRoot, Encoding.UTF8.GetBytes(content), newFileMode, keepBackup, hiddenBackup);

    public FileChange Write(string pathInRoot, byte[] content, UnixFileMode newFileMode = Modes.ConfigFile, bool keepBackup = true, bool hiddenBackup = false)
    {
        // Through RealPath also on the live root: renaming over a symlink (99-sysctl.conf -> ../sysctl.conf)
        // would replace the link itself with a regular file instead of updating the file it points to.
        string realPath = _root.RealPath(pathInRoot);
        string hostPath = _root.Resolve(realPath);
        string directory = Path.GetDirectoryName(hostPath)!;
        if (Directory.Exists(hostPath))
            throw new KvmHostException(ErrorIds.NotADirectory, FailureKind.InvalidArgument,
                $"{_root.Describe(pathInRoot)} is a directory; a file was expected.", pathInRoot);

        bool exists = File.Exists(hostPath);
        if (exists && ContentEquals(hostPath, content))
            return new FileChange(pathInRoot, Changed: false, Created: false, Deleted: false, BackupPath: null);

        string temp = TemporaryPathFor(hostPath);
        string? backupHostPath = null;
        try
        {
            RemoveStaleTemporaryFiles(Path.GetDirectoryName(realPath)!, Path.GetFileName(hostPath));
            Directory.CreateDirectory(directory);
            UnixFileMode mode = exists ? File.GetUnixFileMode(hostPath) : newFileMode;
            using (var stream = new FileStream(temp, new FileStreamOptions
                   { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            // Set after creation: the process umask must not decide the mode of a config file.
            File.SetUnixFileMode(temp, mode);
            if (exists && NativeMethods.GetOwner(hostPath) is { } owner && NativeMethods.GetOwner(temp) != owner)
                NativeMethods.SetOwner(temp, owner.Uid, owner.Gid);

            if (exists && keepBackup) backupHostPath = MakeBackup(hostPath, hiddenBackup);
            File.Move(temp, hostPath, overwrite: true);
            NativeMethods.SyncDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            if (backupHostPath is not null) TryDelete(backupHostPath);
            throw WriteFailed(pathInRoot, e);
        }
        return new FileChange(pathInRoot, Changed: true, Created: !exists, Deleted: false, ToRootPath(backupHostPath));
    }

    /// <summary>Removes a file, keeping its content as a backup (renamed, so the removal is atomic too).</summary>
    public FileChange Delete(string pathInRoot, bool hiddenBackup = false)
    {
        string hostPath = _root.Resolve(pathInRoot, followLast: false);
        if (!File.Exists(hostPath) && new FileInfo(hostPath).LinkTarget is null)
            return new FileChange(pathInRoot, Changed: false, Created: false, Deleted: false, BackupPath: null);
        string backup = NextBackupPath(hostPath, hiddenBackup);
        try
        {
            File.Move(hostPath, backup);
            NativeMethods.SyncDirectory(Path.GetDirectoryName(hostPath)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(pathInRoot, e);
        }
        return new FileChange(pathInRoot, Changed: true, Created: false, Deleted: true, ToRootPath(backup));
    }

    /// <summary>Undoes a change: puts the backup back, or removes a file that the change created.</summary>
    public void Undo(FileChange change)
    {
        if (!change.Changed) return;
        string hostPath = change.Deleted ? _root.Resolve(change.Path, followLast: false) : _root.Resolve(_root.RealPath(change.Path));
        // Copy through a temp file so that the backup stays and the restore is atomic as well; named like the writer's
        // own temp files, so that one a killed restore leaves behind is hidden and cleaned up like theirs.
        string temp = TemporaryPathFor(hostPath);
        try
        {
            if (change.BackupPath is not null)
            {
                string backup = _root.Resolve(change.BackupPath, followLast: false);
                File.Copy(backup, temp);
                File.SetUnixFileMode(temp, File.GetUnixFileMode(backup));
                if (NativeMethods.GetOwner(backup) is { } owner) NativeMethods.SetOwner(temp, owner.Uid, owner.Gid);
                File.Move(temp, hostPath, overwrite: true);
            }
            else if (change.Created)
            {
                File.Delete(hostPath);
            }
            NativeMethods.SyncDirectory(Path.GetDirectoryName(hostPath)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw WriteFailed(change.Path, e);
        }
    }

    /// <summary>
    /// A temporary file next to <paramref name="hostPath"/>: in the same directory (same file system, so the rename is
    /// atomic, and the directory's SELinux context), hidden (no reader loads it), unique (parallel writers never meet),
    /// and of the one shape the stale cleanup removes: ".NAME.kvmhost-GUID.tmp".
    /// </summary>
    internal static string TemporaryPathFor(string hostPath) =>
        Path.Combine(Path.GetDirectoryName(hostPath)!, $".{Path.GetFileName(hostPath)}{BackupMarker}{Guid.NewGuid():N}.tmp");

    private static string StaleTemporaryPattern(string fileName) => $".{fileName}{BackupMarker}*.tmp";

    private string MakeBackup(string hostPath, bool hidden)
    {
        string backup = NextBackupPath(hostPath, hidden);
        // A hard link costs nothing and cannot be half-written; copy only where links are not allowed.
        if (!NativeMethods.HardLink(hostPath, backup))
        {
            File.Copy(hostPath, backup);
            File.SetUnixFileMode(backup, File.GetUnixFileMode(hostPath));
        }
        return backup;
    }

    private string NextBackupPath(string hostPath, bool hidden)
    {
        string stamp = _clock().ToString("yyyyMMdd'T'HHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        string stem = hidden ? Path.Combine(Path.GetDirectoryName(hostPath)!, "." + Path.GetFileName(hostPath)) : hostPath;
        string candidate = $"{stem}{BackupMarker}{stamp}.bak";
        for (int i = 1; File.Exists(candidate) || Directory.Exists(candidate); i++)
            candidate = $"{stem}{BackupMarker}{stamp}-{i}.bak";
        return candidate;
    }

    private static bool ContentEquals(string hostPath, byte[] content)
    {
        var info = new FileInfo(hostPath);
        if (info.Length != content.Length) return false;
        return File.ReadAllBytes(hostPath).AsSpan().SequenceEqual(content);
    }

    private string? ToRootPath(string? hostPath) => hostPath is null ? null : _root.PathInRoot(hostPath);

    private KvmHostException WriteFailed(string pathInRoot, Exception e)
    {
        string why = e switch
        {
            UnauthorizedAccessException => "permission denied (run as root, or the file system is read-only)",
            IOException io when Errno.Is(io, Errno.NoSpace) => "the file system is full",
            IOException io when Errno.Is(io, Errno.ReadOnlyFileSystem) => "the file system is read-only",
            _ => e.Message,
        };
        return new KvmHostException(ErrorIds.FileWriteFailed,
            e is UnauthorizedAccessException ? FailureKind.PermissionDenied : FailureKind.WriteError,
            $"Could not write {_root.Describe(pathInRoot)}: {why}. The file was left as it was.", pathInRoot,
            "Free space or make the file system writable, then run the command again.", e);
    }

    /// <summary>How old a temporary file must be before it counts as left behind by a killed run.</summary>
    public static readonly TimeSpan StaleTemporaryAge = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A run killed (SIGKILL, power loss) between creating its temporary file and the rename leaves that file
    /// behind: hidden and never loaded, but it would pile up. A live writer keeps its temporary for
    /// milliseconds, so one older than <see cref="StaleTemporaryAge"/> belongs to a run that died.
    /// </summary>
    private void RemoveStaleTemporaryFiles(string directoryInRoot, string fileName)
    {
        var cutoff = DateTime.UtcNow - StaleTemporaryAge;
        foreach (var entry in _root.List(directoryInRoot, StaleTemporaryPattern(fileName)).Where(e => e.Kind == FileKind.File))
        {
            string stale = _root.Resolve(entry.Path, followLast: false);
            if (File.GetLastWriteTimeUtc(stale) < cutoff) TryDelete(stale);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>The modes files are created with when they do not exist yet.</summary>
internal static class Modes
{
    /// <summary>0644: sysctl.d drop-ins, ifcfg files.</summary>
    public const UnixFileMode ConfigFile = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>0600: NetworkManager ignores keyfiles readable by others (they may hold secrets).</summary>
    public const UnixFileMode SecretFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
}
