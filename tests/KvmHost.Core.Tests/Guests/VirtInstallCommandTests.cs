using System.Xml;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// virt-install's argument lists, and (against virt-install itself, with libvirt's in-process test driver) that
/// hostile values survive its sub-option parser intact: what New-KvmGuest passes is what ends up in the domain XML.
/// </summary>
public sealed class VirtInstallCommandTests
{
    private const string Uri = "qemu:///system";

    private static NewGuestRequest Kernel(string name = "vm01") => new()
    {
        Name = name, Source = GuestInstallSource.Kernel, Kernel = "/boot/vmlinuz", Initrd = "/boot/initrd.gz",
        KernelArguments = "console=ttyS0 panic=-1", MemoryBytes = 256L << 20, Network = NewGuestRequest.NoNetwork,
    };

    private static List<string> Args(NewGuestRequest request, bool preview = false) =>
        VirtInstallCommand.Arguments(request, Uri, "linux2022", "qemu", preview).ToList();

    private static string? After(List<string> args, string option) => args.IndexOf(option) is var i and >= 0 && i + 1 < args.Count ? args[i + 1] : null;

    [Fact]
    public void A_kernel_boot_is_an_import_with_the_kernel_initrd_and_arguments_in_boot_and_no_disk_unless_asked()
    {
        var args = Args(Kernel());
        Assert.Equal(["--connect", Uri, "--name", "vm01", "--memory", "256", "--vcpus", "1", "--os-variant", "linux2022", "--virt-type", "qemu"], args.Take(12));
        Assert.Contains("--import", args);
        Assert.Equal("kernel=\"/boot/vmlinuz\",initrd=\"/boot/initrd.gz\",kernel_args=\"console=ttyS0 panic=-1\"", After(args, "--boot"));
        Assert.Equal("none", After(args, "--disk"));
        Assert.Equal("none", After(args, "--network"));
        Assert.Equal("none", After(args, "--graphics"));
        Assert.Equal("pty,log.file=\"/var/log/libvirt/qemu/vm01-serial.log\",log.append=on", After(args, "--serial"));
        Assert.Contains("--noautoconsole", args);
        Assert.DoesNotContain("--noreboot", args);
        Assert.DoesNotContain("--dry-run", args);
    }

    [Fact]
    public void A_disk_size_is_given_in_gib_exactly_with_its_pool_and_qcow2()
    {
        var args = Args(Kernel() with { DiskSizeBytes = 16L << 20, StoragePool = "fast", Uefi = true, NoStart = true, Autostart = true });
        Assert.Equal("size=0.015625,pool=\"fast\",format=qcow2", After(args, "--disk"));
        Assert.StartsWith("uefi,kernel=", After(args, "--boot"));
        Assert.Contains("--noreboot", args);
        Assert.Contains("--autostart", args);
        Assert.Equal("0.0029296875", VirtInstallCommand.Gibibytes(3L << 20));
        Assert.Equal("20", VirtInstallCommand.Gibibytes(20L << 30));
    }

    [Fact]
    public void Each_install_source_becomes_its_own_virt_install_option()
    {
        var iso = Args(new NewGuestRequest { Name = "a", Source = GuestInstallSource.IsoPath, IsoPath = "/isos/rhel-9.4-x86_64-dvd.iso" });
        Assert.Equal("/isos/rhel-9.4-x86_64-dvd.iso", After(iso, "--cdrom"));
        Assert.Equal("size=20,format=qcow2", After(iso, "--disk"));
        Assert.Equal("network=\"default\"", After(iso, "--network"));
        Assert.DoesNotContain("--import", iso);

        var tree = Args(new NewGuestRequest { Name = "b", Source = GuestInstallSource.Location, Location = "http://mirror/rhel9/BaseOS/x86_64/os/", KernelArguments = "inst.ks=http://mirror/ks.cfg console=ttyS0" });
        Assert.Equal("\"http://mirror/rhel9/BaseOS/x86_64/os/\"", After(tree, "--location"));
        Assert.Equal("inst.ks=http://mirror/ks.cfg console=ttyS0", After(tree, "--extra-args"));

        var import = Args(new NewGuestRequest { Name = "c", Source = GuestInstallSource.ImportDisk, ImportDisk = "/srv/golden.qcow2", Bridge = "br0" });
        Assert.Contains("--import", import);
        Assert.Equal("path=\"/srv/golden.qcow2\"", After(import, "--disk"));
        Assert.Equal("bridge=\"br0\"", After(import, "--network"));

        var cloud = Args(new NewGuestRequest { Name = "d", Source = GuestInstallSource.CloudImage, CloudImage = "/srv/Fedora-Cloud.qcow2", SshPublicKey = "/root/.ssh/id_ed25519.pub" });
        Assert.Equal("size=20,backing_store=\"/srv/Fedora-Cloud.qcow2\",format=qcow2", After(cloud, "--disk"));
        Assert.Equal("clouduser-ssh-key=\"/root/.ssh/id_ed25519.pub\"", After(cloud, "--cloud-init"));
        var userData = Args(new NewGuestRequest { Name = "d", Source = GuestInstallSource.CloudImage, CloudImage = "/srv/c.qcow2", UserData = "/srv/user-data" });
        Assert.Equal("user-data=\"/srv/user-data\"", After(userData, "--cloud-init"));

        Assert.Equal(["--print-xml", "--dry-run"], Args(Kernel(), preview: true).TakeLast(2));
    }

    [Fact]
    public void Values_are_quoted_for_virt_installs_shlex_parser_so_commas_and_quotes_stay_inside()
    {
        Assert.Equal("\"a,b=c \\\"d\\\" e\\\\f\"", VirtInstallCommand.Quote("a,b=c \"d\" e\\f"));
        var args = Args(Kernel() with { Description = "x,y" });
        Assert.Equal("description=\"x,y\"", After(args, "--metadata"));
    }

    /// <summary>
    /// The real parser: virt-install --print-xml --dry-run against the test driver (no daemon, nothing created) with a
    /// kernel in a folder whose name has a comma, quote and '=', kernel arguments with quotes and a backslash, and a
    /// description full of XML specials, commas and a newline. The XML must carry each value exactly.
    /// </summary>
    [Fact]
    public void Virt_install_parses_hostile_values_back_exactly()
    {
        string folder = Directory.CreateTempSubdirectory("kvmhost-virtinst-a,b=c \"q\" ").FullName;
        try
        {
            string kernel = Path.Combine(folder, "vmlinuz");
            File.WriteAllText(kernel, "not a kernel: virt-install only names it");
            string arguments = "console=ttyS0 x=\"a,b\" y=\\z";
            string description = "<b>&amp; a,b=c \"q\" ' \\ ]]>\nline 2";
            var request = Kernel("hostile") with { Kernel = kernel, Initrd = null, KernelArguments = arguments, Description = description };
            var args = VirtInstallCommand.Arguments(request, "test:///default", "linux2022", "test", preview: true).ToList();
            var cache = Directory.CreateTempSubdirectory("kvmhost-virtinst-cache-").FullName;
            var result = new CommandRunner().Run(new CommandRequest(VirtInstallCommand.Program, args)
            {
                Timeout = TimeSpan.FromMinutes(2),
                Environment = new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = cache }, // virt-install's log goes here, not to ~/.cache
            }, CancellationToken.None);
            Directory.Delete(cache, recursive: true);
            Assert.True(result.Succeeded, result.StandardError);
            var xml = new XmlDocument();
            xml.LoadXml(result.StandardOutput);
            Assert.Equal(kernel, xml.SelectSingleNode("/domain/os/kernel")!.InnerText);
            Assert.Equal(arguments, xml.SelectSingleNode("/domain/os/cmdline")!.InnerText);
            Assert.Equal(description, xml.SelectSingleNode("/domain/description")!.InnerText);
            Assert.Equal("/var/log/libvirt/qemu/hostile-serial.log", xml.SelectSingleNode("/domain/devices/serial/log/@file")!.Value);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
