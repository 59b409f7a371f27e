using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// The connection and every lifecycle call against libvirt's own test driver, in-process (no daemon): a
/// world of fourteen guests in every state, from virt-manager's test suite. Each test opens its own world.
/// </summary>
public sealed class LibvirtConnectionTests : IDisposable
{
    private readonly List<string> _log = [];
    private readonly LibvirtConnection _connection;
    private readonly GuestCatalog _catalog;

    public LibvirtConnectionTests()
    {
        _connection = LibvirtConnection.Open(WorldUri, LibvirtAccess.ReadWrite, CancellationToken.None, _log.Add);
        _catalog = GuestCatalog.List(_connection);
    }

    internal static string WorldUri => "test://" + ScratchRoot.Fixture("libvirt/virt-manager-testdriver.xml");

    public void Dispose()
    {
        _catalog.Dispose();
        _connection.Dispose();
    }

    private GuestEntry Guest(string name) => _catalog.FindByName(name) ?? throw new InvalidOperationException($"no {name} in the world");

    private KvmGuest Read(string name) => Assert.Single(GuestReader.Read([Guest(name)]));

    [Fact]
    public void Lists_every_guest_with_one_call_and_knows_names_and_uuids_locally()
    {
        Assert.Equal(14, _catalog.Guests.Count);
        Assert.Equal(_catalog.Guests.Count, _catalog.Guests.Select(g => g.Uuid).Distinct().Count());
        Assert.Equal(Guid.Parse("4a64cc71-19c4-2fd0-2323-3050941ea3c3"), Guest("test").Uuid); // as written in the world file
        Assert.Same(Guest("test"), _catalog.FindByUuid(Guest("test").Uuid));
        Assert.Null(_catalog.FindByName("TEST")); // libvirt names are case-sensitive
    }

    [Fact]
    public void Reads_all_guests_in_bulk_with_state_persistence_and_managed_save()
    {
        var guests = GuestReader.Read(_catalog.Guests).ToDictionary(g => g.Name);

        Assert.Equal(14, guests.Count);
        Assert.Equal(GuestState.Paused, guests["test-state-paused"].State);
        Assert.Equal(GuestState.Crashed, guests["test-state-crashed"].State);
        Assert.Equal(GuestState.PMSuspended, guests["test-state-pmsuspended"].State);
        Assert.Equal(GuestState.ShutOff, guests["test-state-shutoff"].State);
        Assert.Null(guests["test-state-shutoff"].Id);
        Assert.NotNull(guests["test"].Id);
        Assert.False(guests["test-state-transient"].Persistent);
        Assert.True(guests["test"].Persistent);
        Assert.True(guests["test-state-managedsave"].HasManagedSave);
        Assert.False(guests["test-state-shutoff"].HasManagedSave);
        Assert.All(guests.Values, g => Assert.Equal(WorldUri, g.Uri));
        Assert.All(guests.Values, g => Assert.False(string.IsNullOrEmpty(g.ComputerName)));
    }

    [Fact]
    public void Fills_sizes_devices_osinfo_and_description_from_the_domain_xml()
    {
        var guest = Read("test-alternate-devs");

        Assert.Equal(2, guest.ProcessorCount);
        Assert.Equal(64L * 1024 * 1024 * 1024, guest.MemoryBytes);
        Assert.Equal(128L * 1024 * 1024 * 1024, guest.MaximumMemoryBytes);
        Assert.Equal("msdos6.22", guest.OsVariant);
        Assert.Equal("http://microsoft.com/msdos/6.22", guest.OsInfoId);
        Assert.StartsWith("Test alternate devices", guest.Description);
        var nic = Assert.Single(guest.NetworkAdapters);
        Assert.Equal(("test-alternate-devs", "22:11:11:11:72:72", "bridge", "blahbr0"), (nic.GuestName, nic.MacAddress, nic.Type, nic.Bridge));
    }

    [Fact]
    public void Asks_for_lease_addresses_only_where_a_libvirt_network_can_have_handed_them_out()
    {
        using var builtIn = LibvirtConnection.Open("test:///default", LibvirtAccess.ReadWrite, CancellationToken.None);
        using var catalog = GuestCatalog.List(builtIn);
        var guest = Assert.Single(GuestReader.Read(catalog.Guests));

        var nic = Assert.Single(guest.NetworkAdapters);
        Assert.Equal("default", nic.Network);
        Assert.Equal(["192.168.122.3"], nic.IPAddresses); // the test driver's lease for its network adapter
        var disk = Assert.Single(guest.Disks);
        Assert.Equal(("test", "vda", "virtio", "/guest/diskimage1"), (disk.GuestName, disk.Target, disk.Bus, disk.Source));
    }

    [Fact]
    public void Reads_only_the_states_asked_for()
    {
        var shutOff = GuestReader.Read(_catalog.Guests, s => s == GuestState.ShutOff);
        Assert.Equal(["test-clone", "test-clone-full", "test-clone-simple", "test-state-managedsave", "test-state-shutoff"],
            shutOff.Select(g => g.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Suspends_resumes_powers_off_and_starts_and_each_call_is_logged()
    {
        var guest = Guest("test");
        _connection.Suspend(guest.Handle);
        Assert.Equal(GuestState.Paused, GuestLifecycle.StateOf(guest).State);
        _connection.Resume(guest.Handle);
        Assert.Equal(GuestState.Running, GuestLifecycle.StateOf(guest).State);
        _connection.Destroy(guest.Handle);
        Assert.Equal((GuestState.ShutOff, "Destroyed"), GuestLifecycle.StateOf(guest));
        _connection.Start(guest.Handle);
        Assert.Equal((GuestState.Running, "Booted"), GuestLifecycle.StateOf(guest));
        Assert.Contains(_log, line => line.Contains("virDomainSuspend test", StringComparison.Ordinal));
        Assert.Contains(_log, line => line.Contains("virDomainDestroyFlags test", StringComparison.Ordinal));
    }

    [Fact]
    public void A_managed_save_is_restored_by_start()
    {
        var guest = Guest("test");
        _connection.ManagedSave(guest.Handle);
        var saved = Read("test");
        Assert.Equal((GuestState.ShutOff, "Saved", true), (saved.State, saved.StateReason, saved.HasManagedSave));

        _connection.Start(guest.Handle);
        var restored = Read("test");
        // the test driver calls it Booted; QEMU says Restored (the lab tests check that)
        Assert.Equal((GuestState.Running, false), (restored.State, restored.HasManagedSave));
    }

    [Fact]
    public void Resets_and_reboots_and_a_call_the_driver_lacks_is_unsupported()
    {
        _connection.Reset(Guest("test").Handle);
        Assert.Equal(GuestState.Running, GuestLifecycle.StateOf(Guest("test")).State);
        _connection.Reboot(Guest("test").Handle);
        Assert.Equal(GuestState.Running, GuestLifecycle.StateOf(Guest("test")).State);
        var lacking = Assert.Throws<KvmHostException>(() => _connection.Wakeup(Guest("test-state-pmsuspended").Handle));
        Assert.Equal(ErrorIds.LibvirtOperationUnsupported, lacking.ErrorId);
        Assert.Equal(FailureKind.NotImplemented, lacking.Kind);
        // the test driver has no ACPI power button: it refuses the flag, and the agent is never tried instead
        var noButton = Assert.Throws<KvmHostException>(() => _connection.Shutdown(Guest("test").Handle));
        Assert.Equal((ErrorIds.LibvirtOperationUnsupported, "test"), (noButton.ErrorId, noButton.Target));
        Assert.Contains("-TurnOff", noButton.Hint);
        Assert.Equal(GuestState.Running, GuestLifecycle.StateOf(Guest("test")).State);
    }

    [Fact]
    public void Sets_autostart_and_reads_it_back_in_bulk()
    {
        var guest = Guest("test-clone");
        Assert.False(GuestLifecycle.AutostartOf(guest));
        GuestLifecycle.Apply(guest, GuestAction.EnableAutostart);
        Assert.True(GuestLifecycle.AutostartOf(guest));
        Assert.True(Read("test-clone").Autostart);
        Assert.False(Read("test").Autostart);
        GuestLifecycle.Apply(guest, GuestAction.DisableAutostart);
        Assert.False(Read("test-clone").Autostart);
    }

    [Fact]
    public void Refusals_come_back_as_ids_with_the_guest_as_target_and_its_state()
    {
        var off = Assert.Throws<KvmHostException>(() => _connection.Destroy(Guest("test-state-shutoff").Handle));
        Assert.Equal((ErrorIds.GuestStateInvalid, "test-state-shutoff"), (off.ErrorId, off.Target));
        Assert.Contains("while the guest is ShutOff", off.Message);

        var transient = Assert.Throws<KvmHostException>(() => _connection.ManagedSave(Guest("test-state-transient").Handle));
        Assert.Equal(ErrorIds.GuestStateInvalid, transient.ErrorId);
        Assert.Contains("transient", transient.Message);

        // The test driver reports some refusals as internal errors (QEMU's driver as operation-invalid, which the
        // lab tests see): those keep the generic id, with the guest as target all the same.
        var running = Assert.Throws<KvmHostException>(() => _connection.Start(Guest("test").Handle));
        Assert.Equal((ErrorIds.LibvirtCallFailed, "test"), (running.ErrorId, running.Target));

        var missing = Assert.Throws<KvmHostException>(() => _connection.LookupByName("no-such-guest"));
        Assert.Equal(ErrorIds.GuestNotFound, missing.ErrorId);
        Assert.Equal("no-such-guest", missing.Target);
    }

    [Fact]
    public void The_error_of_a_failure_is_not_left_behind_for_the_next_call()
    {
        Assert.Throws<KvmHostException>(() => _connection.Start(Guest("test").Handle));
        _connection.Suspend(Guest("test").Handle); // succeeds, and must not see the earlier error
        Assert.Equal(GuestState.Paused, GuestLifecycle.StateOf(Guest("test")).State);
    }

    [Fact]
    public void Defines_and_undefines_a_guest()
    {
        string xml = File.ReadAllText(ScratchRoot.Fixture("libvirt/test-default-domain.xml"))
            .Replace("<name>test</name>", "<name>kvmhost-defined</name>")
            .Replace("6695eb01-f6a4-8304-79aa-97f2502e193f", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
            .Replace(" id='1'", string.Empty);
        using (var defined = _connection.Define(xml))
            Assert.Equal("kvmhost-defined", LibvirtConnection.NameOf(defined));
        using (var catalog = GuestCatalog.List(_connection))
        {
            var guest = catalog.FindByName("kvmhost-defined")!;
            Assert.Equal(GuestState.ShutOff, GuestLifecycle.StateOf(guest).State);
            _connection.Undefine(guest.Handle, 0);
        }
        using (var after = GuestCatalog.List(_connection))
            Assert.Null(after.FindByName("kvmhost-defined"));
    }

    [Fact]
    public void A_daemon_that_is_not_there_is_unreachable()
    {
        string socket = Path.Combine(Path.GetTempPath(), $"kvmhost-no-daemon-{Guid.NewGuid():N}", "libvirt-sock");
        var failure = Assert.Throws<KvmHostException>(() =>
            LibvirtConnection.Open($"qemu+unix:///system?socket={socket}", LibvirtAccess.PreferReadWrite, CancellationToken.None));
        Assert.Equal(ErrorIds.LibvirtNotReachable, failure.ErrorId);
        Assert.Equal(FailureKind.ResourceUnavailable, failure.Kind);
        Assert.Contains(socket, failure.Message);
    }

    [Fact]
    public void A_uri_no_driver_knows_is_unreachable_and_a_malformed_one_never_reaches_libvirt()
    {
        Assert.Equal(ErrorIds.LibvirtNotReachable,
            Assert.Throws<KvmHostException>(() => LibvirtConnection.Open("nosuchdriver:///x", LibvirtAccess.ReadWrite, CancellationToken.None)).ErrorId);
        Assert.Equal(ErrorIds.LibvirtUriInvalid,
            Assert.Throws<KvmHostException>(() => LibvirtConnection.Open("qemu:///system\nx", LibvirtAccess.ReadWrite, CancellationToken.None)).ErrorId);
    }

    [Fact]
    public void Opening_can_be_cancelled_before_it_starts()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => LibvirtConnection.Open("test:///default", LibvirtAccess.ReadWrite, cancelled.Token));
    }
}
