using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

public class PreviewAndCompletionTests
{
    [Theory]
    [InlineData("interface-name=enp7s0\naddress1=10.0.0.2/24\n", "line 1 has a key before the first [group]")]
    [InlineData("# admin\n[connection]\nid=x\njust words\n", "line 4 is neither a [group], a comment nor key=value")]
    [InlineData("[connection]\n=value\n", "line 2 is neither a [group], a comment nor key=value")]
    public void Keyfiles_NetworkManager_would_not_load_are_named_malformed(string text, string problem)
    {
        Assert.Equal(problem, Keyfile.FindProblem(text));
        var failure = Assert.Throws<KvmHostException>(() => Keyfile.ParseStrict(text, "/etc/NetworkManager/system-connections/x.nmconnection"));
        Assert.Equal(ErrorIds.KeyfileMalformed, failure.ErrorId);
        Assert.Equal(FailureKind.InvalidData, failure.Kind);
    }

    [Theory]
    [InlineData("\n# comment\n  [connection]\nid=a b\n\n[ipv4]\n  method=auto\n")]
    [InlineData("")]
    public void Keyfiles_GKeyFile_accepts_are_not_malformed(string text) => Assert.Null(Keyfile.FindProblem(text));

    [Theory]
    [InlineData("os-release/centos-7.os-release", true)]
    [InlineData("os-release/rhel-8.10.os-release", true)]
    [InlineData("os-release/rhel-9.6.os-release", false)]
    [InlineData("os-release/rhel-10.0.os-release", false)]
    [InlineData("os-release/fedora-42.os-release", false)]
    [InlineData("os-release/debian-12.os-release", false)]
    [InlineData("os-release/ubuntu-24.04.os-release", false)]
    public void The_NetworkManager_hint_offers_network_scripts_only_where_the_release_has_them(string fixture, bool hasNetworkScripts)
    {
        using var scratch = new ScratchRoot().PutFixture("/etc/os-release", fixture);
        var release = ReleaseProfile.Detect(scratch.Root);
        Assert.Equal(hasNetworkScripts, BridgeConfigs.HasNetworkScripts(release));
        var failure = BridgeConfigs.NetworkManagerNotRunning(release);
        Assert.Equal(ErrorIds.NetworkManagerNotRunning, failure.ErrorId);
        Assert.Equal(hasNetworkScripts, failure.Hint!.Contains("NetworkScripts", StringComparison.Ordinal));
        Assert.DoesNotContain("NetworkScripts", BridgeConfigs.NetworkManagerNotRunning(null).Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_come_from_the_roots_sys_and_its_configuration_files()
    {
        using var scratch = new ScratchRoot()
            .Dir("/sys/class/net/lo").Dir("/sys/class/net/eno1").Dir("/sys/class/net/virbr0/bridge")
            .Put("/etc/sysconfig/network-scripts/ifcfg-eth0", "DEVICE=eth0\nIPADDR=10.0.0.2\n")
            .Put("/etc/sysconfig/network-scripts/ifcfg-eth1", "DEVICE=eth1\nBRIDGE=br0\n")
            .Put("/etc/sysconfig/network-scripts/ifcfg-br0", "DEVICE=br0\nTYPE=Bridge\n")
            .Put("/etc/sysconfig/network-scripts/ifcfg-bond0", "DEVICE=bond0\nTYPE=Bond\n")
            .Put("/etc/NetworkManager/system-connections/enp2s0.nmconnection", "[connection]\nid=enp2s0\ntype=ethernet\ninterface-name=enp2s0\n")
            .Put("/etc/NetworkManager/system-connections/junk.nmconnection", "interface-name=enp9s0\n")
            .Put("/etc/NetworkManager/system-connections/br7.nmconnection", "[connection]\nid=br7\ntype=bridge\ninterface-name=br7\n");
        Assert.Equal(["eno1", "enp2s0", "eth0"], InterfaceNames.Nics(scratch.Root));
        Assert.Equal(["br0", "br7", "virbr0"], InterfaceNames.Bridges(scratch.Root));
    }

    [Fact]
    public void A_root_without_sys_or_files_completes_nothing()
    {
        using var scratch = new ScratchRoot();
        Assert.Empty(InterfaceNames.Nics(scratch.Root));
        Assert.Empty(InterfaceNames.Bridges(scratch.Root));
    }
}
