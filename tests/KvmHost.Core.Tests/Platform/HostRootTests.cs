using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

public class HostRootTests
{
    [Fact]
    public void A_missing_root_is_RootNotFound()
    {
        var e = Assert.Throws<KvmHostException>(() => HostRoot.Open("/nonexistent/kvmhost-root"));
        Assert.Equal(ErrorIds.RootNotFound, e.ErrorId);
        Assert.Equal(FailureKind.ObjectNotFound, e.Kind);
    }

    [Fact]
    public void A_file_as_root_is_RootNotDirectory()
    {
        using var scratch = new ScratchRoot().Put("/file", "x");
        var e = Assert.Throws<KvmHostException>(() => HostRoot.Open(scratch.HostPath("/file")));
        Assert.Equal(ErrorIds.RootNotDirectory, e.ErrorId);
    }

    [Fact]
    public void Slash_is_the_live_root_and_resolves_paths_unchanged()
    {
        var root = HostRoot.Open("/");
        Assert.True(root.IsLive);
        Assert.Equal("/etc/os-release", root.Resolve("/etc/os-release"));
    }

    [Fact]
    public void Absolute_symlinks_are_resolved_inside_the_root()
    {
        using var scratch = new ScratchRoot().Put("/usr/lib/os-release", "ID=rhel\n").Dir("/etc");
        File.CreateSymbolicLink(scratch.HostPath("/etc/os-release"), "/usr/lib/os-release");
        Assert.Equal(scratch.HostPath("/usr/lib/os-release"), scratch.Root.Resolve("/etc/os-release"));
        Assert.Equal("ID=rhel\n", scratch.Root.TryReadText("/etc/os-release"));
    }

    [Fact]
    public void Relative_symlinks_work_like_the_distributions_99_sysctl_link()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.conf", "a = 1\n").Dir("/etc/sysctl.d");
        File.CreateSymbolicLink(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf"), "../sysctl.conf");
        Assert.Equal(scratch.HostPath("/etc/sysctl.conf"), scratch.Root.Resolve("/etc/sysctl.d/99-sysctl.conf"));
    }

    [Fact]
    public void A_relative_link_that_climbs_out_of_the_root_is_refused()
    {
        using var scratch = new ScratchRoot().Dir("/etc");
        File.CreateSymbolicLink(scratch.HostPath("/etc/escape"), "../../../../../../etc/passwd");
        var e = Assert.Throws<KvmHostException>(() => scratch.Root.Resolve("/etc/escape"));
        Assert.Equal(ErrorIds.PathEscapesRoot, e.ErrorId);
    }

    [Fact]
    public void Dot_dot_above_the_root_is_refused()
    {
        using var scratch = new ScratchRoot();
        var e = Assert.Throws<KvmHostException>(() => scratch.Root.Resolve("/../etc/passwd"));
        Assert.Equal(ErrorIds.PathEscapesRoot, e.ErrorId);
    }

    [Fact]
    public void A_symlink_loop_is_reported_not_followed_forever()
    {
        using var scratch = new ScratchRoot().Dir("/etc");
        File.CreateSymbolicLink(scratch.HostPath("/etc/a"), "b");
        File.CreateSymbolicLink(scratch.HostPath("/etc/b"), "a");
        var e = Assert.Throws<KvmHostException>(() => scratch.Root.Resolve("/etc/a"));
        Assert.Equal(ErrorIds.SymlinkLoop, e.ErrorId);
    }

    [Fact]
    public void Reading_a_missing_file_returns_null_and_a_binary_one_fails()
    {
        using var scratch = new ScratchRoot().Dir("/etc");
        Assert.Null(scratch.Root.TryReadText("/etc/missing"));
        File.WriteAllBytes(scratch.HostPath("/etc/binary"), [0x41, 0x00, 0x42]);
        Assert.Equal(ErrorIds.FileNotText, Assert.Throws<KvmHostException>(() => scratch.Root.TryReadText("/etc/binary")).ErrorId);
    }

    [Fact]
    public void A_file_over_the_limit_is_refused()
    {
        using var scratch = new ScratchRoot().Put("/etc/huge", new string('x', 5000));
        Assert.Equal(ErrorIds.FileTooLarge, Assert.Throws<KvmHostException>(() => scratch.Root.TryReadText("/etc/huge", 1000)).ErrorId);
    }

    [Fact]
    public void Proc_files_that_report_size_zero_are_read_to_the_end()
    {
        byte[]? bytes = HostRoot.Live.TryReadBytes("/proc/self/status");
        Assert.NotNull(bytes);
        Assert.Contains("Name:", System.Text.Encoding.UTF8.GetString(bytes!));
    }

    [Fact]
    public void A_root_that_is_a_symlink_loop_fails_with_SymlinkLoop_not_as_a_plain_file()
    {
        using var scratch = new ScratchRoot();
        string loop = scratch.HostPath("/loop");
        File.CreateSymbolicLink(loop, loop);
        var e = Assert.Throws<KvmHostException>(() => HostRoot.Open(loop));
        Assert.Equal(ErrorIds.SymlinkLoop, e.ErrorId);
    }
}
