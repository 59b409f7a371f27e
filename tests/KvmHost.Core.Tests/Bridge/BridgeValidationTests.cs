using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

public class BridgeValidationTests
{
    [Theory]
    [InlineData("br0")]
    [InlineData("enp0s31f6")]
    [InlineData("eth0.100")]
    [InlineData("a23456789012345")]
    public void Accepts_kernel_interface_names(string name) => Assert.Equal(name, InterfaceName.Validate(name, "Name"));

    [Theory]
    [InlineData("")]
    [InlineData("a234567890123456")]
    [InlineData("br/0")]
    [InlineData("br:0")]
    [InlineData("br 0")]
    [InlineData("br0\nIPADDR=6.6.6.6")]
    [InlineData("br0=x")]
    [InlineData("br$(id)")]
    [InlineData("..")]
    [InlineData("äääääääää")]
    public void Refuses_names_the_kernel_or_a_config_file_would_choke_on(string name)
    {
        var e = Assert.Throws<KvmHostException>(() => InterfaceName.Validate(name, "Interface"));
        Assert.Equal(ErrorIds.InvalidInterfaceName, e.ErrorId);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("192.168.0.18/24", "192.168.0.18", 24)]
    [InlineData("2001:db8::18/64", "2001:db8::18", 64)]
    public void Parses_addresses_with_prefix(string text, string address, int prefix)
    {
        var cidr = IpCidr.Parse(text, "IPAddress");
        Assert.Equal(address, cidr.Address.ToString());
        Assert.Equal(prefix, cidr.PrefixLength);
    }

    [Theory]
    [InlineData("192.168.0.18")]
    [InlineData("192.168.0.18/33")]
    [InlineData("192.168.0.18/0")]
    [InlineData("10.1/8")]
    [InlineData("300.1.1.1/24")]
    [InlineData("127.0.0.1/8")]
    [InlineData("224.0.0.1/4")]
    [InlineData("fe80::1%eth0/64")]
    [InlineData("192.168.0.18/24\nDNS1=6.6.6.6")]
    public void Refuses_addresses_without_a_usable_prefix(string text)
    {
        var e = Assert.Throws<KvmHostException>(() => IpCidr.Parse(text, "IPAddress"));
        Assert.Equal(ErrorIds.InvalidIPAddress, e.ErrorId);
    }

    [Fact]
    public void A_gateway_outside_the_subnet_is_refused_before_anything_is_read()
    {
        var e = Assert.Throws<KvmHostException>(() =>
            BridgeRequest.Create("br0", "eth0", ["192.168.0.18/24"], "192.168.1.1", null, false, null, null, null, null));
        Assert.Equal(ErrorIds.GatewayOutsideSubnet, e.ErrorId);
    }

    [Fact]
    public void The_gateway_may_sit_anywhere_in_a_wider_prefix()
    {
        var request = BridgeRequest.Create("br0", "eth0", ["10.0.0.5/16"], "10.0.200.1", ["10.0.0.53"], false, null, null, null, null);
        Assert.Equal("10.0.200.1", request.Gateway!.ToString());
        Assert.Equal(AddressSource.Static, request.Source);
    }

    [Theory]
    [InlineData("br0", "br0")]
    [InlineData("br0", "lo")]
    public void The_bridge_cannot_be_its_own_port_or_take_loopback(string name, string nic) =>
        Assert.Throws<KvmHostException>(() => BridgeRequest.Create(name, nic, null, null, null, false, null, null, null, null));

    [Fact]
    public void Dhcp_and_static_addresses_exclude_each_other()
    {
        var e = Assert.Throws<KvmHostException>(() => BridgeRequest.Create("br0", "eth0", ["10.0.0.5/24"], null, null, true, null, null, null, null));
        Assert.Equal(ErrorIds.InvalidBridgeOption, e.ErrorId);
    }

    [Fact]
    public void Netmask_follows_the_prefix() => Assert.Equal("255.255.240.0", IpCidr.Parse("10.0.0.1/20", "x").Netmask);
}
