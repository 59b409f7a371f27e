using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// The snapshot calls and the checkpoint tree against libvirt's own test driver, in-process: virt-manager's world,
/// whose "test-snapshots" guest has ten snapshots (internal, external with and without memory, disk-only, paused,
/// a child older than its parent, a name with '&amp;'), and guests defined here for taking, restoring and removing.
/// Each test opens its own world.
/// </summary>
public sealed class CheckpointConnectionTests : IDisposable
{
    private readonly List<string> _log = [];
    private readonly LibvirtConnection _connection;
    private readonly GuestCatalog _catalog;

    public CheckpointConnectionTests()
    {
        _connection = LibvirtConnection.Open(LibvirtConnectionTests.WorldUri, LibvirtAccess.ReadWrite, CancellationToken.None, _log.Add);
        _catalog = GuestCatalog.List(_connection);
    }

    public void Dispose()
    {
        _catalog.Dispose();
        _connection.Dispose();
    }

    private GuestEntry Guest(string name) => _catalog.FindByName(name) ?? GuestCatalog.List(_connection).FindByName(name)
        ?? throw new InvalidOperationException($"no {name} in the world");

    /// <summary>A running test guest with a qcow2 disk and a logged serial port, defined in this world.</summary>
    private GuestEntry DefineGuest(string name, string disk = "<driver name='qemu' type='qcow2'/><source file='/images/x.qcow2'/>", string os = "<type>hvm</type>")
    {
        using var handle = _connection.Define($"""
            <domain type='test'><name>{name}</name><memory>65536</memory><os>{os}</os>
              <devices>
                <disk type='file' device='disk'>{disk}<target dev='vda' bus='virtio'/></disk>
                <serial type='pty'><log file='/var/log/libvirt/qemu/{name}-serial.log'/><target port='0'/></serial>
              </devices>
            </domain>
            """);
        var guest = GuestCatalog.List(_connection).FindByName(name)!;
        _connection.Start(guest.Handle);
        return guest;
    }

    [Fact]
    public void Lists_the_tree_roots_first_then_descendants_with_children_current_and_state()
    {
        var tree = GuestCheckpoints.List(Guest("test-snapshots"));

        Assert.Equal(10, tree.Count);
        // Roots oldest first; each root's descendants right after it, siblings oldest first (child2 is from 1974).
        Assert.Equal(
            ["aaa-external-mem", "aaa-external-mem-only", "zzz-external-diskonly", "snap-paused", "snap-pmsuspended", "internal-root",
             "internal-root-child1&", "offline-root", "offline-root-child2", "offline-root-child1"],
            tree.Select(c => c.Name));
        var byName = tree.ToDictionary(c => c.Name);
        Assert.Equal(["offline-root-child2", "offline-root-child1"], byName["offline-root"].Children);
        Assert.Equal("offline-root", byName["offline-root-child1"].Parent);
        Assert.Equal(1, byName["offline-root-child1"].Depth);
        Assert.Equal("internal-root-child1&", Assert.Single(tree, c => c.IsCurrent).Name);
        Assert.Equal(GuestCheckpointState.Paused, byName["snap-paused"].State);
        Assert.Equal(GuestCheckpointState.PMSuspended, byName["snap-pmsuspended"].State);
        Assert.Equal(GuestCheckpointState.ShutOff, byName["offline-root"].State);
        Assert.Equal("FOO\ndesc line #2\nba", byName["internal-root"].Description);
        Assert.Equal(new DateTimeOffset(2013, 8, 7, 19, 51, 20, TimeSpan.Zero).LocalDateTime, byName["internal-root"].Created);
        Assert.All(tree, c => Assert.Equal(("test-snapshots", LibvirtConnectionTests.WorldUri), (c.GuestName, c.Uri)));
        Assert.All(tree, c => Assert.Null(c.SizeBytes)); // the test driver's images are on no host: sizes are not known
    }

    [Fact]
    public void Tells_internal_from_external_and_memory_from_disks_only()
    {
        var byName = GuestCheckpoints.List(Guest("test-snapshots")).ToDictionary(c => c.Name);

        Assert.Equal((GuestCheckpointKind.Internal, true), (byName["internal-root"].Kind, byName["internal-root"].HasMemory));
        Assert.Equal((GuestCheckpointKind.Internal, false), (byName["offline-root"].Kind, byName["offline-root"].HasMemory));
        Assert.Equal((GuestCheckpointKind.External, true), (byName["aaa-external-mem"].Kind, byName["aaa-external-mem"].HasMemory));
        Assert.Equal(GuestCheckpointKind.External, byName["aaa-external-mem-only"].Kind);
        Assert.Equal((GuestCheckpointKind.External, false), (byName["zzz-external-diskonly"].Kind, byName["zzz-external-diskonly"].HasMemory));
    }

    [Fact]
    public void Takes_restores_and_removes_checkpoints_through_libvirt_and_logs_each_change()
    {
        var guest = DefineGuest("ck1");
        var first = GuestCheckpoints.Create(guest, GuestCheckpoints.PlanCreate(guest, "first", "a <b> & c", DateTime.UtcNow));
        Assert.Equal(("first", GuestCheckpointState.Running, true, "a <b> & c"), (first.Name, first.State, first.IsCurrent, first.Description));
        var second = GuestCheckpoints.Create(guest, GuestCheckpoints.PlanCreate(guest, "second", null, DateTime.UtcNow));
        Assert.Equal("first", second.Parent);
        Assert.Contains(_log, line => line.Contains("virDomainSnapshotCreateXML ck1 'second'", StringComparison.Ordinal));

        _connection.Destroy(guest.Handle);
        Assert.Equal(GuestState.Running, GuestCheckpoints.Restore(guest, first));
        Assert.True(GuestCheckpoints.List(guest).Single(c => c.Name == "first").IsCurrent);

        GuestCheckpoints.Remove(guest, "first", includeChildren: false);
        var left = Assert.Single(GuestCheckpoints.List(guest));
        Assert.Equal(("second", null), (left.Name, left.Parent)); // its child moved up to its (absent) parent
        Assert.Contains(_log, line => line.Contains("virDomainSnapshotDelete ck1 'first' (children move to its parent)", StringComparison.Ordinal));
    }

    [Fact]
    public void Removes_a_checkpoint_with_its_descendants()
    {
        var guest = DefineGuest("ck2");
        foreach (string name in new[] { "a", "b", "c" })
            GuestCheckpoints.Create(guest, GuestCheckpoints.PlanCreate(guest, name, null, DateTime.UtcNow));

        GuestCheckpoints.Remove(guest, "b", includeChildren: true);

        Assert.Equal(["a"], GuestCheckpoints.List(guest).Select(c => c.Name));
    }

    [Fact]
    public void A_name_in_use_is_refused_and_the_default_name_steps_past_it()
    {
        var guest = DefineGuest("ck3");
        var now = new DateTime(2026, 12, 3, 10, 15, 0, DateTimeKind.Utc);
        var taken = GuestCheckpoints.Create(guest, GuestCheckpoints.PlanCreate(guest, null, null, now));
        Assert.Equal("ck3-20261203T101500Z", taken.Name);
        Assert.Equal("ck3-20261203T101500Z-2", GuestCheckpoints.PlanCreate(guest, null, null, now).Name);

        var refused = Assert.Throws<KvmHostException>(() => GuestCheckpoints.PlanCreate(guest, "ck3-20261203T101500Z", null, now));
        Assert.Equal((ErrorIds.CheckpointExists, FailureKind.InvalidArgument), (refused.ErrorId, refused.Kind));
    }

    [Fact]
    public void Refuses_a_disk_without_a_qcow2_format_before_calling_libvirt()
    {
        var guest = DefineGuest("ck4", disk: "<source file='/images/plain.img'/>");

        var refused = Assert.Throws<KvmHostException>(() => GuestCheckpoints.PlanCreate(guest, "x", null, DateTime.UtcNow));

        Assert.Equal(ErrorIds.CheckpointDiskUnsupported, refused.ErrorId);
        Assert.Empty(GuestCheckpoints.List(guest));
    }

    [Fact]
    public void A_checkpoint_that_is_not_there_is_CheckpointNotFound_with_the_checkpoint_as_target()
    {
        var guest = DefineGuest("ck5");

        var missing = Assert.Throws<KvmHostException>(() => GuestCheckpoints.Remove(guest, "nowhere", includeChildren: false));

        Assert.Equal((ErrorIds.CheckpointNotFound, FailureKind.ObjectNotFound, "nowhere"), (missing.ErrorId, missing.Kind, missing.Target));
        Assert.False(_connection.SnapshotExists(guest.Handle, "nowhere"));
        Assert.Null(_connection.CurrentSnapshotName(guest.Handle));
    }

    [Fact]
    public void Knows_the_daemons_libvirt_version()
    {
        Version version = _connection.LibraryVersion;
        Assert.True(version >= new Version(4, 5, 0), $"{version}");
        Assert.Same(version, _connection.LibraryVersion); // asked once
    }

    [Fact]
    public void A_console_log_of_a_daemon_on_no_host_of_ours_is_refused_and_a_guest_without_one_is_told_how()
    {
        var logged = DefineGuest("ck6");
        var notLocal = Assert.Throws<KvmHostException>(() => GuestConsoleLog.Read(logged, null));
        Assert.Equal((ErrorIds.ConsoleLogNotLocal, "ck6"), (notLocal.ErrorId, notLocal.Target));

        var bare = Guest("test");
        var none = Assert.Throws<KvmHostException>(() => GuestConsoleLog.Read(bare, null));
        Assert.Equal((ErrorIds.ConsoleLogNotConfigured, FailureKind.ObjectNotFound), (none.ErrorId, none.Kind));
        Assert.Contains("<log file=", none.Hint, StringComparison.Ordinal);
    }
}
