using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>The libosinfo database as New-KvmGuest reads it: osinfo-db's layout in a scratch root, and the real one of this machine.</summary>
public sealed class OsInfoDatabaseTests
{
    private static string Os(string id, string shortIds, string name, string? released = null, string family = "linux") => $"""
        <?xml version="1.0" encoding="UTF-8"?>
        <libosinfo version="0.0.1">
          <os id="{id}">
            {string.Join("", shortIds.Split(' ').Select(s => $"<short-id>{s}</short-id>"))}
            <name xml:lang="de">Übersetzt {name}</name>
            <name>{name}</name>
            <family>{family}</family>
            {(released is null ? "" : $"<release-date>{released}</release-date>")}
            <devices><device id="http://pcisig.com/pci/1af4/1041"/></devices>
            <resources arch="all"><minimum><ram>1073741824</ram></minimum></resources>
          </os>
        </libosinfo>
        """;

    private static ScratchRoot Database() => new ScratchRoot()
        .Put("/usr/share/osinfo/os/redhat.com/rhel-9.4.xml", Os("http://redhat.com/rhel/9.4", "rhel9.4", "Red Hat Enterprise Linux 9.4", "2024-04-30"))
        .Put("/usr/share/osinfo/os/redhat.com/rhel-9.2.xml", Os("http://redhat.com/rhel/9.2", "rhel9.2", "Red Hat Enterprise Linux 9.2", "2023-05-10"))
        .Put("/usr/share/osinfo/os/debian.org/debian-12.xml", Os("http://debian.org/debian/12", "debian12 debianbookworm", "Debian 12", "2023-06-10"))
        .Put("/usr/share/osinfo/os/libosinfo.org/linux-2020.xml", Os("http://libosinfo.org/linux/2020", "linux2020", "Generic Linux 2020"))
        .Put("/usr/share/osinfo/os/libosinfo.org/linux-2022.xml", Os("http://libosinfo.org/linux/2022", "linux2022", "Generic Linux 2022"))
        .Put("/usr/share/osinfo/os/libosinfo.org/unknown.xml", Os("http://libosinfo.org/unknown", "unknown", "Unknown OS", family: "unknown"))
        .Put("/usr/share/osinfo/os/broken.org/broken.xml", "<libosinfo><os id='http://broken.org/1'><short-id>broken1")
        .Put("/etc/osinfo/os/redhat.com/rhel-9.4.xml", Os("http://redhat.com/rhel/9.4", "rhel9.4", "RHEL 9.4 (local override)", "2024-04-30"));

    private static readonly string[] Folders = ["/usr/share/osinfo", "/etc/osinfo"];

    [Fact]
    public void Reads_every_short_id_with_the_untranslated_name_and_a_later_folder_overrides_an_earlier_one()
    {
        using var scratch = Database();
        var database = OsInfoDatabase.Load(scratch.Root, Folders);

        Assert.Equal(["debian12", "linux2020", "linux2022", "rhel9.2", "rhel9.4", "unknown"], database.Entries.Select(e => e.ShortId));
        Assert.Same(database.Find("debian12"), database.Find("debianbookworm"));
        Assert.Equal("Debian 12", database.Find("debian12")!.Name);
        Assert.Equal("RHEL 9.4 (local override)", database.Find("rhel9.4")!.Name); // /etc/osinfo wins, as in libosinfo
        Assert.Same(database.Find("rhel9.2"), database.Find("http://redhat.com/rhel/9.2"));
        Assert.Null(database.Find("RHEL9.4")); // short ids are exact, as virt-install matches them
        Assert.Null(database.Find("broken1")); // a broken file is passed over
    }

    [Fact]
    public void The_default_is_the_newest_generic_linux()
    {
        using var scratch = Database();
        Assert.Equal("linux2022", OsInfoDatabase.Load(scratch.Root, Folders).NewestGenericLinux()!.ShortId);
        using var old = new ScratchRoot().Put("/usr/share/osinfo/os/redhat.com/rhel-7.9.xml", Os("http://redhat.com/rhel/7.9", "rhel7.9", "RHEL 7.9"));
        Assert.Null(OsInfoDatabase.Load(old.Root, Folders).NewestGenericLinux());
    }

    [Fact]
    public void An_unknown_variant_is_refused_with_the_closest_names_newest_first()
    {
        using var scratch = Database();
        var failure = Assert.Throws<KvmHostException>(() => OsInfoDatabase.Load(scratch.Root, Folders).Require("rhel9.9"));
        Assert.Equal(ErrorIds.GuestOsVariantUnknown, failure.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, failure.Kind);
        Assert.Equal("rhel9.9", failure.Target);
        Assert.Contains("Did you mean rhel9.4, rhel9.2?", failure.Hint);
    }

    [Fact]
    public void Without_any_database_the_refusal_says_to_install_osinfo_db()
    {
        using var empty = new ScratchRoot();
        var failure = Assert.Throws<KvmHostException>(() => OsInfoDatabase.Load(empty.Root, Folders).Require("rhel9.4"));
        Assert.Equal(ErrorIds.GuestOsVariantUnknown, failure.ErrorId);
        Assert.Equal(FailureKind.NotInstalled, failure.Kind);
        Assert.Contains("osinfo-db", failure.Hint);
    }

    [Fact]
    public void Libosinfos_folders_follow_its_environment_variables()
    {
        var folders = OsInfoDatabase.Folders(name => name switch
        {
            "OSINFO_SYSTEM_DIR" => "/opt/osinfo",
            "HOME" => "/home/admin",
            _ => null,
        });
        Assert.Equal(["/usr/share/libosinfo/db", "/opt/osinfo", "/etc/osinfo", "/home/admin/.config/osinfo"], folders);
    }

    /// <summary>The machine's own osinfo-db (virtinst brings it; .ci installs virtinst): what tab completion offers.</summary>
    [Fact]
    public void This_machines_database_has_the_releases_virt_install_knows()
    {
        var database = OsInfoDatabase.Load(HostRoot.Live);
        Assert.True(database.Entries.Count > 300, $"{database.Entries.Count} entries");
        Assert.NotNull(database.Find("rhel9.0"));
        Assert.NotNull(database.Find("debian11"));
        Assert.StartsWith("http://libosinfo.org/linux/", database.NewestGenericLinux()!.Id);
    }
}
