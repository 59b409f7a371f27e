using System.Net;
using System.Net.Sockets;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>An interface address with its prefix length ("192.0.2.10/24", "2001:db8::10/64").</summary>
public sealed record IpCidr(IPAddress Address, int PrefixLength)
{
    public bool IsIPv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Address}/{PrefixLength}";

    /// <summary>255.255.255.0 for a /24: what ifcfg's NETMASK and the RHEL 7 procedure use.</summary>
    public string Netmask
    {
        get
        {
            uint mask = PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);
            return new IPAddress(BitConverter.GetBytes(IPAddress.HostToNetworkOrder((int)mask))).ToString();
        }
    }

    public bool Contains(IPAddress address)
    {
        if (address.AddressFamily != Address.AddressFamily) return false;
        byte[] a = Address.GetAddressBytes(), b = address.GetAddressBytes();
        int bits = PrefixLength;
        for (int i = 0; i < a.Length && bits > 0; i++, bits -= 8)
        {
            int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
            if ((a[i] & mask) != (b[i] & mask)) return false;
        }
        return true;
    }

    /// <summary>Parses "A/N"; a bare IPv4 address needs a prefix (guessing /24 or /32 would be a silent wrong answer).</summary>
    public static IpCidr Parse(string? text, string parameter)
    {
        string value = (text ?? string.Empty).Trim();
        int slash = value.IndexOf('/');
        if (slash > 0 && TryParseStrict(value[..slash], out var address) && IsUsable(address)
            && int.TryParse(value[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix))
        {
            int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (prefix >= 1 && prefix <= max)
                return new IpCidr(address, prefix);
        }
        throw new KvmHostException(ErrorIds.InvalidIPAddress, FailureKind.InvalidArgument,
            $"'{InterfaceName.Escape(value)}' is not a usable address with prefix for -{parameter}. Nothing was changed.", text,
            "Give the address and prefix length, for example 192.168.0.18/24 or 2001:db8::18/64.");
    }

    /// <summary>A gateway or DNS server: a plain unicast address.</summary>
    public static IPAddress ParseAddress(string? text, string parameter)
    {
        string value = (text ?? string.Empty).Trim();
        if (TryParseStrict(value, out var address) && IsUsable(address))
            return address;
        throw new KvmHostException(ErrorIds.InvalidIPAddress, FailureKind.InvalidArgument,
            $"'{InterfaceName.Escape(value)}' is not a usable IP address for -{parameter}. Nothing was changed.", text,
            "Give a plain address such as 192.168.0.1 or 2001:db8::1.");
    }

    /// <summary>IPAddress.TryParse accepts "10.1" as 10.0.0.1; an admin who typed that meant something else.</summary>
    internal static bool TryParseStrict(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (!IPAddress.TryParse(text, out var parsed) || parsed is null) return false;
        if (parsed.AddressFamily == AddressFamily.InterNetwork
            && !(text.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))))
            return false;
        if (parsed.AddressFamily == AddressFamily.InterNetworkV6 && text.Contains('%')) return false;
        address = parsed;
        return true;
    }

    private static bool IsUsable(IPAddress address) =>
        !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.Broadcast)
        && !IPAddress.IsLoopback(address) && !(address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv6Multicast)
        && !(address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes()[0] >= 224);
}
