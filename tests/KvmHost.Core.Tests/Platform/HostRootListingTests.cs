using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

/// <summary>HostRoot.List and ReadTextFiles: the one way folders are read, with one policy for what cannot be read.</summary>
public sealed class HostRootListingTests
{
    [Fact]
    public void A_listing_is_sorted_and_tells_files_directories_and_everything_else_apart()
    {
        using var scratch = new ScratchRoot().Put("/d/b.conf", "b = 1\n").Dir("/d/a.conf");
        File.CreateSymbolicLink(scratch.HostPath("/d/c-link"), "b.conf");
        File.CreateSymbolicLink(scratch.HostPath("/d/d-broken"), "missing");
        File.CreateSymbolicLink(scratch.HostPath("/d/e-escape"), "../../../../../../../../etc/passwd");
        File.CreateSymbolicLink(scratch.HostPath("/d/f-loop"), "f-loop");

        var entries = scratch.Root.List("/d");

        Assert.Equal(["a.conf", "b.conf", "c-link", "d-broken", "e-escape", "f-loop"], entries.Select(e => e.Name));
        Assert.Equal(["/d/a.conf", "/d/b.conf"], entries.Take(2).Select(e => e.Path));
        Assert.Equal([FileKind.Directory, FileKind.File, FileKind.File, FileKind.Other, FileKind.Other, FileKind.Other],
            entries.Select(e => e.Kind));
    }

    [Fact]
    public void A_pattern_selects_names_the_way_ls_would()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.d/10-a.conf", "").Put("/etc/sysctl.d/README", "").Put("/etc/sysctl.d/.20-b.conf", "");
        Assert.Equal([".20-b.conf", "10-a.conf"], scratch.Root.List("/etc/sysctl.d", "*.conf").Select(e => e.Name));
    }

    [Fact]
    public void A_missing_directory_or_a_file_in_its_place_lists_as_empty()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.d", "a file, not a directory");
        Assert.Empty(scratch.Root.List("/etc/missing"));
        Assert.Empty(scratch.Root.List("/etc/sysctl.d"));
    }

    [Fact]
    public void A_device_is_neither_a_file_nor_a_directory()
    {
        Assert.Equal(FileKind.Other, HostRoot.Live.List("/dev").Single(e => e.Name == "null").Kind);
    }

    [Fact]
    public void A_folder_that_cannot_be_listed_fails_with_FileUnreadable_not_a_bare_IOException()
    {
        using var scratch = new ScratchRoot().Dir("/etc");
        File.CreateSymbolicLink(scratch.HostPath("/etc/loop"), "loop");
        // On the live root the kernel resolves the path and answers ELOOP.
        var e = Assert.Throws<KvmHostException>(() => HostRoot.Live.List(scratch.HostPath("/etc/loop")));
        Assert.Equal(ErrorIds.FileUnreadable, e.ErrorId);
        Assert.Equal(FailureKind.ReadError, e.Kind);
    }

    [Fact]
    public void Reading_a_folder_as_text_passes_over_what_is_not_configuration_and_names_it()
    {
        using var scratch = new ScratchRoot().Put("/d/ifcfg-eth0", "DEVICE=eth0\n").Put("/d/ifcfg-eth0.bak", "DEVICE=old\n").Dir("/d/ifcfg-dir");
        File.WriteAllBytes(scratch.HostPath("/d/ifcfg-core"), [0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01]);
        File.CreateSymbolicLink(scratch.HostPath("/d/ifcfg-gone"), "missing");
        var skipped = new List<SkippedFile>();

        var files = scratch.Root.ReadTextFiles("/d", name => !name.EndsWith(".bak", StringComparison.Ordinal), "ifcfg-*", skipped);

        Assert.Equal([("/d/ifcfg-eth0", "DEVICE=eth0\n")], files);
        Assert.Equal(["/d/ifcfg-core", "/d/ifcfg-dir", "/d/ifcfg-gone"], skipped.Select(s => s.Path));
        Assert.Equal(ErrorIds.FileNotText, skipped[0].Failure?.ErrorId);
        Assert.Contains("not a text file", skipped[0].Reason, StringComparison.Ordinal);
        Assert.All(skipped.Skip(1), s => Assert.Null(s.Failure)); // not regular files: nothing was read
    }

    [Fact]
    public void A_root_whose_path_runs_through_a_symlink_loop_is_SymlinkLoop()
    {
        using var scratch = new ScratchRoot();
        File.CreateSymbolicLink(scratch.HostPath("/loop"), "loop");
        // GetAttributes on ".../loop/image" meets ELOOP on the way (the loop itself is no longer the last component).
        var e = Assert.Throws<KvmHostException>(() => HostRoot.Open(scratch.HostPath("/loop/image")));
        Assert.Equal(ErrorIds.SymlinkLoop, e.ErrorId);
    }
}
