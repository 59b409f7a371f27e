using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// Links, addresses and routes read from rtnetlink in-process: what "ip -j -d address show" and "ip -j -4/-6 route show
/// table all" print, with the same field values (names, lowercase MACs, "default" and host routes without "/32",
/// iproute2's protocol, scope and table names), so the two readers give the same <see cref="LiveNetworkState"/>.
/// </summary>
internal static class NetlinkNetwork
{
    private const ushort RtmGetLink = 18, RtmNewLink = 16, RtmGetAddress = 22, RtmNewAddress = 20, RtmGetRoute = 26, RtmNewRoute = 24;
    private const byte AfUnspec = 0, AfInet = 2, AfInet6 = 10;

    public static LiveNetworkState Read(HostRoot tables)
    {
        var links = ReadLinks();
        var byIndex = links.ToDictionary(l => l.Index, l => l.Name);
        var addresses = ReadAddresses();
        var routes = ReadRoutes(AfInet, byIndex, tables).Concat(ReadRoutes(AfInet6, byIndex, tables)).ToList();
        var live = links.Select(l => new LiveLink(l.Name, l.Kind, l.Mac, l.Mtu, l.Up, l.MasterIndex is { } m ? byIndex.GetValueOrDefault(m) : null,
            addresses.Where(a => a.Index == l.Index).Select(a => a.Address).ToList()) { PermanentMacAddress = l.PermanentMac }).ToList();
        return new LiveNetworkState(live, routes);
    }

    private sealed record Link(int Index, string Name, string? Kind, string? Mac, int Mtu, bool Up, int? MasterIndex, string? PermanentMac);

    private static List<Link> ReadLinks()
    {
        var links = new List<Link>();
        foreach (var (type, payload) in NativeMethods.NetlinkDump(RtmGetLink, new byte[16]))
        {
            if (type != RtmNewLink || payload.Length < 16) continue;
            ushort linkType = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(2));
            int index = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4));
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(8));
            string? name = null, kind = null;
            byte[]? mac = null, permanent = null;
            int mtu = 0;
            int? master = null;
            foreach (var (attribute, value) in Attributes(payload.AsSpan(16)))
            {
                switch (attribute)
                {
                    case 1: mac = value; break;                                     // IFLA_ADDRESS
                    case 3: name = Text(value); break;                              // IFLA_IFNAME
                    case 4: mtu = (int)BinaryPrimitives.ReadUInt32LittleEndian(value); break; // IFLA_MTU
                    case 10: master = BinaryPrimitives.ReadInt32LittleEndian(value); break;   // IFLA_MASTER
                    case 18:                                                        // IFLA_LINKINFO
                        foreach (var (info, infoValue) in Attributes(value)) if (info == 1) kind = Text(infoValue); // IFLA_INFO_KIND
                        break;
                    case 54: permanent = value; break;                              // IFLA_PERM_ADDRESS
                }
            }
            if (name is null) continue;
            // iproute2 prints permaddr only where it differs from the address in use.
            string? permanentText = permanent is not null && (mac is null || !permanent.AsSpan().SequenceEqual(mac)) ? HardwareAddress(linkType, permanent) : null;
            links.Add(new Link(index, name, kind, mac is null ? null : HardwareAddress(linkType, mac), mtu, (flags & 0x1) != 0, master, permanentText));
        }
        return links;
    }

    private static List<(int Index, LiveAddress Address)> ReadAddresses()
    {
        var addresses = new List<(int, LiveAddress)>();
        foreach (var (type, payload) in NativeMethods.NetlinkDump(RtmGetAddress, new byte[8] { AfUnspec, 0, 0, 0, 0, 0, 0, 0 }))
        {
            if (type != RtmNewAddress || payload.Length < 8) continue;
            byte family = payload[0], prefix = payload[1], scope = payload[3];
            uint flags = payload[2];
            int index = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(4));
            byte[]? local = null, address = null;
            foreach (var (attribute, value) in Attributes(payload.AsSpan(8)))
            {
                if (attribute == 1) address = value;                                       // IFA_ADDRESS
                else if (attribute == 2) local = value;                                    // IFA_LOCAL
                else if (attribute == 8) flags = BinaryPrimitives.ReadUInt32LittleEndian(value); // IFA_FLAGS: all 32 bits
            }
            if ((local ?? address) is not { } bytes || family is not (AfInet or AfInet6)) continue;
            const uint Permanent = 0x80, NoPrefixRoute = 0x200;
            addresses.Add((index, new LiveAddress(new IpCidr(new IPAddress(bytes), prefix), ScopeName(scope),
                (flags & Permanent) == 0, (flags & NoPrefixRoute) != 0)));
        }
        return addresses;
    }

    private static IEnumerable<LiveRoute> ReadRoutes(byte family, Dictionary<int, string> names, HostRoot tables)
    {
        var tableNames = RouteTableNames(tables);
        var header = new byte[12];
        header[0] = family;
        foreach (var (type, payload) in NativeMethods.NetlinkDump(RtmGetRoute, header))
        {
            if (type != RtmNewRoute || payload.Length < 12) continue;
            byte dstLength = payload[1], protocol = payload[5], scope = payload[6], routeType = payload[7];
            uint table = payload[4];
            uint routeFlags = BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(8));
            const byte Unicast = 1;
            const uint Cloned = 0x200; // RTM_F_CLONED: a cached route, which "ip route show" leaves out
            if (routeType != Unicast || (routeFlags & Cloned) != 0) continue;
            byte[]? destination = null, gateway = null, source = null;
            int? device = null, metric = null;
            foreach (var (attribute, value) in Attributes(payload.AsSpan(12)))
            {
                switch (attribute)
                {
                    case 1: destination = value; break;                                                   // RTA_DST
                    case 4: device = BinaryPrimitives.ReadInt32LittleEndian(value); break;                // RTA_OIF
                    case 5: gateway = value; break;                                                       // RTA_GATEWAY
                    case 6: metric = (int)BinaryPrimitives.ReadUInt32LittleEndian(value); break;          // RTA_PRIORITY
                    case 7: source = value; break;                                                        // RTA_PREFSRC
                    case 15: table = BinaryPrimitives.ReadUInt32LittleEndian(value); break;               // RTA_TABLE
                }
            }
            const uint Local = 255, Main = 254;
            if (table == Local) continue;
            int hostLength = family == AfInet ? 32 : 128;
            string dst = destination is null || dstLength == 0 && destination.All(b => b == 0) ? "default"
                : new IPAddress(destination) + (dstLength == hostLength ? string.Empty : "/" + dstLength.ToString(CultureInfo.InvariantCulture));
            yield return new LiveRoute(family == AfInet6, dst, gateway is null ? null : new IPAddress(gateway).ToString(),
                device is { } d ? names.GetValueOrDefault(d) : null, ProtocolName(protocol), metric, scope == 0 ? null : ScopeName(scope),
                source is null ? null : new IPAddress(source).ToString())
            { Table = table == Main ? null : tableNames.GetValueOrDefault(table) ?? table.ToString(CultureInfo.InvariantCulture) };
        }
    }

    /// <summary>rtattr records: a 4-byte header (length, type without the nested and byte-order flags), then the value, 4-byte aligned.</summary>
    private static List<(ushort Type, byte[] Value)> Attributes(ReadOnlySpan<byte> data)
    {
        var attributes = new List<(ushort, byte[])>();
        int offset = 0;
        while (offset + 4 <= data.Length)
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(data[offset..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(data[(offset + 2)..]) & 0x3fff);
            if (length < 4 || offset + length > data.Length) break;
            attributes.Add((type, data.Slice(offset + 4, length - 4).ToArray()));
            offset += (length + 3) & ~3;
        }
        return attributes;
    }

    private static string Text(byte[] value) => Encoding.UTF8.GetString(value.AsSpan().TrimEnd((byte)0));

    /// <summary>As iproute2 prints a link-layer address: tunnels' as IP addresses, everything else as lowercase hex pairs.</summary>
    private static string HardwareAddress(ushort linkType, byte[] value) => linkType switch
    {
        768 or 776 or 778 when value.Length == 4 => new IPAddress(value).ToString(),   // ARPHRD_TUNNEL, SIT, IPGRE
        769 or 823 when value.Length == 16 => new IPAddress(value).ToString(),         // ARPHRD_TUNNEL6, IP6GRE
        _ => string.Join(':', value.Select(b => b.ToString("x2", CultureInfo.InvariantCulture))),
    };

    private static string ScopeName(byte scope) => scope switch
    {
        0 => "global",
        200 => "site",
        253 => "link",
        254 => "host",
        255 => "nowhere",
        _ => scope.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>iproute2's names (rtnl_rtprot_tab); "boot", the default, it does not print, so it stays null here too.</summary>
    private static string? ProtocolName(byte protocol) => protocol switch
    {
        3 => null,
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        18 => "keepalived",
        42 => "babel",
        99 => "openr",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => protocol.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Routing table names as iproute2 reads them (rt_tables in /etc/iproute2, else the distribution's copy, and the
    /// rt_tables.d drop-ins): a policy table shows under the same name "ip route show table all" gives it.
    /// </summary>
    private static Dictionary<uint, string> RouteTableNames(HostRoot root)
    {
        var names = new Dictionary<uint, string> { [253] = "default", [254] = "main", [255] = "local" };
        var files = new List<string>();
        foreach (string directory in new[] { "/usr/share/iproute2", "/usr/lib/iproute2", "/etc/iproute2" })
        {
            files.Add(directory + "/rt_tables");
            files.AddRange(root.List(directory + "/rt_tables.d", "*.conf").Where(e => e.Kind == FileKind.File).Select(e => e.Path));
        }
        foreach (string file in files)
        {
            string? text;
            try { text = root.TryReadText(file, 1024 * 1024); }
            catch (KvmHostException) { continue; }
            if (text is null) continue;
            foreach (string raw in text.Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (words.Length >= 2 && uint.TryParse(words[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out uint id)) names[id] = words[1];
            }
        }
        return names;
    }
}
