using KvmHost.Core.Platform;
using KvmHost.Core.Services;
using Xunit;

namespace KvmHost.Core.Tests.Services;

public class LibvirtPackagesTests
{
    [Theory]
    [InlineData("libvirt", "Installed")]
    [InlineData("libvirt-daemon-system", "AlreadyInstalled")]
    [InlineData("@virtualization", "Installed")]
    public void Accepts_an_installed_libvirt(string name, string status) =>
        LibvirtPackages.EnsureInstalled([("qemu-kvm", "Installed"), (name, status)]);

    [Theory]
    [InlineData("Failed")]
    [InlineData("Missing")]
    [InlineData("WouldInstall")]
    public void Refuses_a_libvirt_that_is_not_installed(string status)
    {
        var e = Assert.Throws<KvmHostException>(() => LibvirtPackages.EnsureInstalled([("libvirt", status)]));
        Assert.Equal(ErrorIds.LibvirtPackageNotInstalled, e.ErrorId);
        Assert.Contains(status, e.Message);
    }

    [Fact]
    public void Refuses_packages_without_libvirt()
    {
        var e = Assert.Throws<KvmHostException>(() => LibvirtPackages.EnsureInstalled([("qemu-kvm", "Installed")]));
        Assert.Equal(ErrorIds.LibvirtPackageNotInstalled, e.ErrorId);
    }
}
