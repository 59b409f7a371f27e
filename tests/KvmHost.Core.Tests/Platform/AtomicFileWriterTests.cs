using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

public class AtomicFileWriterTests
{
    [Fact]
    public void A_new_file_gets_the_requested_mode_and_no_backup()
    {
        using var scratch = new ScratchRoot();
        var change = new AtomicFileWriter(scratch.Root).Write("/etc/NetworkManager/system-connections/br0.nmconnection", "[connection]\n", Modes.SecretFile);
        Assert.True(change.Changed);
        Assert.True(change.Created);
        Assert.Null(change.BackupPath);
        Assert.Equal(Modes.SecretFile, File.GetUnixFileMode(scratch.HostPath("/etc/NetworkManager/system-connections/br0.nmconnection")));
    }

    [Fact]
    public void Identical_content_is_not_rewritten()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.d/90-x.conf", "a = 1\n");
        var before = File.GetLastWriteTimeUtc(scratch.HostPath("/etc/sysctl.d/90-x.conf"));
        var change = new AtomicFileWriter(scratch.Root).Write("/etc/sysctl.d/90-x.conf", "a = 1\n");
        Assert.False(change.Changed);
        Assert.Equal(before, File.GetLastWriteTimeUtc(scratch.HostPath("/etc/sysctl.d/90-x.conf")));
        Assert.Single(Directory.GetFiles(scratch.HostPath("/etc/sysctl.d")));
    }

    [Fact]
    public void Replacing_keeps_the_mode_and_the_old_content_as_a_backup_outside_the_conf_glob()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.conf", "old\n");
        File.SetUnixFileMode(scratch.HostPath("/etc/sysctl.conf"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var clock = new DateTime(2026, 11, 25, 3, 4, 5, 6, DateTimeKind.Utc);
        var change = new AtomicFileWriter(scratch.Root, () => clock).Write("/etc/sysctl.conf", "new\n");
        Assert.True(change.Changed);
        Assert.False(change.Created);
        Assert.Equal("/etc/sysctl.conf.kvmhost-20261125T030405006.bak", change.BackupPath);
        Assert.Equal("old\n", scratch.Read(change.BackupPath!));
        Assert.Equal("new\n", scratch.Read("/etc/sysctl.conf"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(scratch.HostPath("/etc/sysctl.conf")));
        Assert.DoesNotContain(Directory.GetFiles(scratch.HostPath("/etc")), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void Writing_through_a_symlink_replaces_the_target_and_keeps_the_link()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.conf", "old\n").Dir("/etc/sysctl.d");
        File.CreateSymbolicLink(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf"), "../sysctl.conf");
        new AtomicFileWriter(scratch.Root).Write("/etc/sysctl.d/99-sysctl.conf", "new\n");
        Assert.Equal("new\n", scratch.Read("/etc/sysctl.conf"));
        Assert.NotNull(new FileInfo(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf")).LinkTarget);
    }

    [Fact]
    public void Undo_restores_the_old_content_or_removes_a_created_file()
    {
        using var scratch = new ScratchRoot().Put("/etc/a.conf", "old\n");
        var writer = new AtomicFileWriter(scratch.Root);
        var replaced = writer.Write("/etc/a.conf", "new\n");
        var created = writer.Write("/etc/b.conf", "new\n");
        writer.Undo(replaced);
        writer.Undo(created);
        Assert.Equal("old\n", scratch.Read("/etc/a.conf"));
        Assert.False(File.Exists(scratch.HostPath("/etc/b.conf")));
    }

    [Fact]
    public void Delete_moves_the_file_to_a_backup()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysconfig/network-scripts/ifcfg-br0", "DEVICE=br0\n");
        var change = new AtomicFileWriter(scratch.Root).Delete("/etc/sysconfig/network-scripts/ifcfg-br0");
        Assert.True(change.Deleted);
        Assert.False(File.Exists(scratch.HostPath("/etc/sysconfig/network-scripts/ifcfg-br0")));
        Assert.Equal("DEVICE=br0\n", scratch.Read(change.BackupPath!));
        Assert.EndsWith(".bak", change.BackupPath);
    }

    [Fact]
    public void A_directory_in_the_way_is_an_error_and_nothing_is_written()
    {
        using var scratch = new ScratchRoot().Dir("/etc/sysctl.d/90-x.conf");
        var e = Assert.Throws<KvmHostException>(() => new AtomicFileWriter(scratch.Root).Write("/etc/sysctl.d/90-x.conf", "a\n"));
        Assert.Equal(ErrorIds.NotADirectory, e.ErrorId);
        Assert.Single(Directory.GetFileSystemEntries(scratch.HostPath("/etc/sysctl.d")));
    }

    [Fact]
    public void A_read_only_directory_fails_cleanly_when_not_root()
    {
        if (Privileges.IsRoot) return; // root ignores directory modes; the read-only mount case runs in the Pester fault suite
        using var scratch = new ScratchRoot().Put("/etc/a.conf", "old\n");
        File.SetUnixFileMode(scratch.HostPath("/etc"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            var e = Assert.Throws<KvmHostException>(() => new AtomicFileWriter(scratch.Root).Write("/etc/a.conf", "new\n"));
            Assert.Equal(ErrorIds.FileWriteFailed, e.ErrorId);
            Assert.Equal("old\n", scratch.Read("/etc/a.conf"));
        }
        finally
        {
            File.SetUnixFileMode(scratch.HostPath("/etc"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void A_temporary_file_left_by_a_killed_run_is_removed_on_the_next_write_and_a_fresh_one_is_left_alone()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.conf", "old\n")
            .Put("/etc/.sysctl.conf.kvmhost-0123456789abcdef0123456789abcdef.tmp", "half")
            .Put("/etc/.sysctl.conf.kvmhost-fedcba9876543210fedcba9876543210.tmp", "in flight")
            .Put("/etc/.other.conf.kvmhost-0123456789abcdef0123456789abcdef.tmp", "another file's");
        string stale = scratch.HostPath("/etc/.sysctl.conf.kvmhost-0123456789abcdef0123456789abcdef.tmp");
        string otherFiles = scratch.HostPath("/etc/.other.conf.kvmhost-0123456789abcdef0123456789abcdef.tmp");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow - AtomicFileWriter.StaleTemporaryAge - TimeSpan.FromSeconds(5));
        File.SetLastWriteTimeUtc(otherFiles, DateTime.UtcNow - TimeSpan.FromHours(1));

        new AtomicFileWriter(scratch.Root).Write("/etc/sysctl.conf", "new\n");

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(scratch.HostPath("/etc/.sysctl.conf.kvmhost-fedcba9876543210fedcba9876543210.tmp")));
        Assert.True(File.Exists(otherFiles));
        Assert.Equal("new\n", scratch.Read("/etc/sysctl.conf"));
    }
}

public class AtomicFileWriterHiddenBackupTests
{
    [Fact]
    public void A_hidden_backup_starts_with_a_dot_so_directory_readers_skip_it()
    {
        using var scratch = new ScratchRoot().Put("/etc/NetworkManager/system-connections/br0.nmconnection", "old\n");
        var clock = new DateTime(2026, 11, 25, 3, 4, 5, 6, DateTimeKind.Utc);
        var writer = new AtomicFileWriter(scratch.Root, () => clock);
        var change = writer.Write("/etc/NetworkManager/system-connections/br0.nmconnection", "new\n", hiddenBackup: true);
        Assert.Equal("/etc/NetworkManager/system-connections/.br0.nmconnection.kvmhost-20261125T030405006.bak", change.BackupPath);
        var removal = writer.Delete("/etc/NetworkManager/system-connections/br0.nmconnection", hiddenBackup: true);
        Assert.StartsWith("/etc/NetworkManager/system-connections/.br0.nmconnection.kvmhost-", removal.BackupPath);
        writer.Undo(removal);
        Assert.Equal("new\n", scratch.Read("/etc/NetworkManager/system-connections/br0.nmconnection"));
    }
}

public class AtomicFileWriterLiveRootTests
{
    [Fact]
    public void On_the_live_root_writing_through_a_symlink_keeps_the_link_and_updates_its_target()
    {
        // The live root with paths inside a temp directory: the kernel, not HostRoot, resolves links here.
        string dir = Directory.CreateTempSubdirectory("kvmhost-live-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "sysctl.conf"), "old\n");
            Directory.CreateDirectory(Path.Combine(dir, "sysctl.d"));
            File.CreateSymbolicLink(Path.Combine(dir, "sysctl.d/99-sysctl.conf"), "../sysctl.conf");
            var change = new AtomicFileWriter(HostRoot.Live).Write(dir + "/sysctl.d/99-sysctl.conf", "new\n");
            Assert.True(change.Changed);
            Assert.Equal("../sysctl.conf", new FileInfo(Path.Combine(dir, "sysctl.d/99-sysctl.conf")).LinkTarget);
            Assert.Equal("new\n", File.ReadAllText(Path.Combine(dir, "sysctl.conf")));
            Assert.Equal("old\n", File.ReadAllText(change.BackupPath!));
            new AtomicFileWriter(HostRoot.Live).Undo(change);
            Assert.Equal("../sysctl.conf", new FileInfo(Path.Combine(dir, "sysctl.d/99-sysctl.conf")).LinkTarget);
            Assert.Equal("old\n", File.ReadAllText(Path.Combine(dir, "sysctl.conf")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public class AtomicFileWriterTemporaryFileTests
{
    [Fact]
    public void Temporary_names_are_hidden_unique_and_of_the_one_shape_the_stale_cleanup_removes()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.conf", "old\n");
        string first = AtomicFileWriter.TemporaryPathFor(scratch.HostPath("/etc/sysctl.conf"));
        string second = AtomicFileWriter.TemporaryPathFor(scratch.HostPath("/etc/sysctl.conf"));
        Assert.NotEqual(first, second);
        Assert.StartsWith(scratch.HostPath("/etc/.sysctl.conf.kvmhost-"), first, StringComparison.Ordinal);
        Assert.EndsWith(".tmp", first, StringComparison.Ordinal);

        // One left by a killed write or restore is removed by the next write once it is old enough.
        File.WriteAllText(first, "left behind");
        File.SetLastWriteTimeUtc(first, DateTime.UtcNow - AtomicFileWriter.StaleTemporaryAge - TimeSpan.FromSeconds(5));
        new AtomicFileWriter(scratch.Root).Write("/etc/sysctl.conf", "new\n");
        Assert.False(File.Exists(first));
    }

    [Fact]
    public void An_undo_that_cannot_finish_leaves_no_temporary_file_and_keeps_the_backup()
    {
        using var scratch = new ScratchRoot().Put("/etc/a.conf", "old\n");
        var writer = new AtomicFileWriter(scratch.Root);
        var change = writer.Write("/etc/a.conf", "new\n");
        // Something replaced the file with a directory that is not empty: the restore cannot rename over it.
        File.Delete(scratch.HostPath("/etc/a.conf"));
        scratch.Put("/etc/a.conf/inside", "x");

        var e = Assert.Throws<KvmHostException>(() => writer.Undo(change));

        Assert.Equal(ErrorIds.FileWriteFailed, e.ErrorId);
        Assert.Empty(Directory.GetFiles(scratch.HostPath("/etc"), "*.tmp"));
        Assert.Equal("old\n", File.ReadAllText(scratch.Root.Resolve(change.BackupPath!)));
    }
}
