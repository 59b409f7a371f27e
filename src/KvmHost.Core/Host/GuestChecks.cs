using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Host;

/// <summary>
/// Test-KvmHost's Guests area: what about the host's guests an admin must act on. Two checks only, both
/// things a host reboot or a start would stumble on: a guest set to start with the host that is not running
/// (autostart did not start it, or someone stopped it since), and a guest disk libvirt cannot read (an image
/// that was moved or deleted: the guest cannot start). Read through libvirt itself, so a daemon in another
/// namespace or on another host is judged by what it sees, not by this machine's files.
/// </summary>
internal static class GuestChecks
{
    private const string Area = "Guests";

    public static IReadOnlyList<HostCheck> Inspect(HostSystem host, string uri)
    {
        var cancellation = host.Cancellation;
        if (host.Running is null)
            return [new HostCheck("guests", CheckResult.NotApplicable, host.OfflineDetail("guests live in a running libvirt")) { Area = Area }];
        IReadOnlyList<KvmGuest> guests;
        try
        {
            using var connection = LibvirtConnection.Open(uri, LibvirtAccess.PreferReadWrite, cancellation);
            using var catalog = GuestCatalog.List(connection);
            guests = GuestReader.Read(catalog.Guests);
        }
        catch (KvmHostException unread) when (unread.ErrorId is ErrorIds.LibvirtNotReachable or ErrorIds.LibvirtNotInstalled or ErrorIds.LibvirtAccessDenied)
        {
            // The Libvirt area says why the daemon does not answer; the guests are then simply not known.
            return [new HostCheck("guests", CheckResult.Note, $"not checked: {unread.Message}") { Area = Area }];
        }
        return [Autostart(guests), Disks(guests)];
    }

    internal static HostCheck Autostart(IReadOnlyList<KvmGuest> guests)
    {
        var autostart = guests.Where(g => g.Autostart).ToList();
        var down = autostart.Where(g => !GuestStateReasons.IsActive(g.State)).Select(g => g.Name).ToList();
        if (down.Count > 0)
            return new HostCheck("autostart guests running", CheckResult.Warn,
                $"{down.Count} of {autostart.Count} set to start with the host are not running: {string.Join(", ", down)}",
                $"Start-KvmGuest {string.Join(", ", down)} (libvirt autostarts once, when the host boots), or Set-KvmGuest -Autostart:$false") { Area = Area };
        return new HostCheck("autostart guests running", CheckResult.Pass,
            autostart.Count == 0 ? "no guest is set to start with the host" : $"all {autostart.Count} running") { Area = Area };
    }

    internal static HostCheck Disks(IReadOnlyList<KvmGuest> guests)
    {
        // A disk whose image libvirt cannot read has no sizes; CD-ROMs may be empty and network disks are not read.
        var disks = guests.SelectMany(g => g.Disks).Where(d => d.Device is "disk" or "lun" && d.Type is "file" or "block" or "volume" && d.Source is not null).ToList();
        var missing = disks.Where(d => d.CapacityBytes is null).Select(d => $"{d.GuestName} {d.Target} ({d.Source})").ToList();
        if (missing.Count > 0)
            return new HostCheck("guest disks readable", CheckResult.Fail,
                $"libvirt cannot read {missing.Count} of {disks.Count} disk images (moved, deleted or unreadable): {string.Join(", ", missing)}",
                "Restore the image, or point the guest's disk at where it is now; a guest whose disk is missing cannot start") { Area = Area };
        return new HostCheck("guest disks readable", CheckResult.Pass,
            $"{disks.Count} disk images of {guests.Count} guests") { Area = Area };
    }
}
