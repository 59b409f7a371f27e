using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// NetworkManager keyfiles in /etc/NetworkManager/system-connections (mode 0600, else NetworkManager
/// ignores them): a bridge profile carrying the NIC profile's layer 3 identity (<see cref="KeyfileCarry"/>)
/// and a port profile for the NIC with the link's settings, written the way NetworkManager's own keyfile
/// writer lays them out (id, uuid, type, then the other keys; groups in setting order). The NIC's previous
/// profiles stay on disk, saved first as hidden originals, then disabled with one line (autoconnect=false;
/// ONBOOT=no for ifcfg ones), so Remove-HostBridge can bring them back byte for byte. A NIC whose profile is
/// an ifcfg file gets an ifcfg bridge instead (<see cref="IfcfgBridgeFiles"/>), for the ifcfg-rh plugin.
/// </summary>
internal sealed class NetworkManagerConfig(HostRoot root, bool newNames) : IBridgeConfig
{
    public const string Directory = "/etc/NetworkManager/system-connections";
    public const string RunDirectory = "/run/NetworkManager/system-connections";

    public BridgeBackend Backend => BridgeBackend.NetworkManager;

    public bool UsesNewNames => newNames;

    public static string KeyfilePath(string id) => $"{Directory}/{id}.nmconnection";

    public static string PortId(string bridge, string nic) => $"{bridge}-port-{nic}";

    /// <summary>A stable UUID per profile id (name-based, like NetworkManager's own generated ones), so a rerun renders the same file.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "A name-based (version 5) UUID is defined over SHA-1; nothing secret is hashed.")]
    public static string StableUuid(string id)
    {
        byte[] hash = SHA1.HashData(Encoding.UTF8.GetBytes("kvmhost-bridge:" + id));
        hash[6] = (byte)((hash[6] & 0x0f) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3f) | 0x80);
        string hex = Convert.ToHexString(hash, 0, 16).ToLowerInvariant();
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..32]}";
    }

    public BridgeRendering Render(BridgeSettings s)
    {
        // Profiles under /run are NetworkManager's own in-memory ones (an externally configured NIC): nothing to carry or keep.
        var source = s.Source is { Text: not null } p && !p.Path.StartsWith("/run/", StringComparison.Ordinal) ? p : null;
        // An ifcfg profile (RHEL 8, hosts upgraded to 9) gets an ifcfg bridge: ifcfg-rh then reads every carried key as it read it for the NIC.
        if (source is { IsIfcfg: true }) return IfcfgBridgeFiles.Render(root, s, networkManager: true);

        var carry = source is null ? null : KeyfileCarry.Compute(source, Keyfile.ParseStrict(source.Text!, source.Path), s.Context);
        var carried = carry?.Report.ToList() ?? [];
        var notes = carry?.Notes.ToList() ?? [];

        var bridge = new Keyfile()
            .Set("connection", "id", s.Name)
            .Set("connection", "uuid", StableUuid(s.Name))
            .Set("connection", "type", "bridge")
            .Set("connection", newNames ? "autoconnect-ports" : "autoconnect-slaves", "1")
            .Set("connection", "interface-name", s.Name);
        foreach (var (key, value) in carry?.BridgeConnection ?? []) bridge.Set("connection", key, value);
        bridge.AddGroup("ethernet");
        if (s.Ip.Mtu is { } mtu) bridge.Set("ethernet", "mtu", mtu.ToString(CultureInfo.InvariantCulture));
        if (s.ForwardDelay is { } delay) bridge.Set("bridge", "forward-delay", delay.ToString(CultureInfo.InvariantCulture));
        if (s.Ip.MacAddress is not null) bridge.Set("bridge", "mac-address", s.Ip.MacAddress.ToUpperInvariant());
        bridge.Set("bridge", "stp", s.Stp ? "true" : "false");
        if (carry is not null)
        {
            foreach (var (group, entries) in carry.BridgeGroups)
            {
                bridge.AddGroup(group);
                foreach (var (key, value) in entries) bridge.Set(group, key, value);
            }
        }
        else
        {
            WriteIp(bridge, s.Ip);
            carried.AddRange(WriteEffectiveMetrics(bridge, s.Context));
            string origin = s.Context.Addressing is not null ? "from the parameters"
                : s.KeepBridgeFile is not null ? "as the bridge has it"
                : s.Source is { } other ? $"from {other.Path}: its addresses, gateway, DNS and routes (KvmHost carries a profile whole only into its own format)"
                : "as the NIC runs now";
            carried.InsertRange(0, new[] { "ipv4", "ipv6" }.SelectMany(g => bridge.Entries(g).Select(e => new CarriedSetting($"{g}.{e.Key}", e.Value, SettingPlace.Bridge, origin))));
        }

        string portId = PortId(s.Name, s.Port);
        var port = new Keyfile()
            .Set("connection", "id", portId)
            .Set("connection", "uuid", StableUuid(portId))
            .Set("connection", "type", "ethernet");
        if (newNames) port.Set("connection", "controller", s.Name);
        port.Set("connection", "interface-name", s.Port);
        if (!newNames) port.Set("connection", "master", s.Name);
        port.Set("connection", newNames ? "port-type" : "slave-type", "bridge");
        foreach (var (key, value) in carry?.PortConnection ?? []) port.Set("connection", key, value);
        port.AddGroup("ethernet");
        foreach (var (group, entries) in carry?.PortGroups.Where(g => g.Group is "ethernet" or "802-3-ethernet") ?? [])
            foreach (var (key, value) in entries) port.Set("ethernet", key, value);
        if (s.Ip.Mtu is { } portMtu) port.Set("ethernet", "mtu", portMtu.ToString(CultureInfo.InvariantCulture));
        port.AddGroup("bridge-port");
        foreach (var (group, entries) in carry?.PortGroups.Where(g => g.Group is not ("ethernet" or "802-3-ethernet")) ?? [])
        {
            port.AddGroup(group);
            foreach (var (key, value) in entries) port.Set(group, key, value);
        }

        var files = new List<PlannedFile>
        {
            new(KeyfilePath(s.Name), (s.KeepBridgeFile == KeyfilePath(s.Name) ? root.TryReadText(KeyfilePath(s.Name)) : null) ?? bridge.Render(), Modes.SecretFile, "bridge"),
            new(KeyfilePath(portId), port.Render(), Modes.SecretFile, "port"),
        };
        // The NIC's own profiles stay, disabled, each saved first as it was (Remove-HostBridge puts them back byte for byte).
        foreach (var profile in FindNicProfiles(s.Port).Where(p => p.Controller is null && !p.Path.StartsWith("/run/", StringComparison.Ordinal)))
        {
            string current = root.TryReadText(profile.Path) ?? string.Empty;
            string original = root.TryReadText(SavedOriginals.PathFor(profile.Path, s.Name)) ?? current;
            var mode = profile.IsIfcfg ? Modes.ConfigFile : Modes.SecretFile;
            files.Add(SavedOriginals.Save(root, profile.Path, s.Name, original, mode));
            files.Add(Disable(profile.Path, current));
        }
        return new BridgeRendering(files) { Carried = carried, Notes = notes, PortUuid = StableUuid(portId) };
    }

    /// <summary>NetworkManager's metric where the profile sets none: the running NIC's, so the bridge does not fall back to 425.</summary>
    private static IEnumerable<CarriedSetting> WriteEffectiveMetrics(Keyfile bridge, CarryContext context)
    {
        foreach (var (group, live) in new[] { ("ipv4", context.LiveMetric4), ("ipv6", context.LiveMetric6) })
        {
            if (live is not { } metric || bridge.Get(group, "method") is "disabled" or "ignore" || bridge.Get(group, "route-metric") is not null) continue;
            bridge.Set(group, "route-metric", metric.ToString(CultureInfo.InvariantCulture));
            yield return new CarriedSetting($"{group}.route-metric", metric.ToString(CultureInfo.InvariantCulture), SettingPlace.Bridge,
                "written: the metric the NIC's routes have now; a bridge would get 425");
        }
    }

    public IReadOnlyList<NicProfile> FindNicProfiles(string nic)
    {
        var result = new List<NicProfile>();
        var keyfiles = ReadKeyfiles();
        // NetworkManager skips a malformed keyfile; if it is the NIC's, the admin's settings are in it.
        foreach (var broken in _malformed)
            if (MentionsInterface(broken.Path, broken.Text, nic)) throw Keyfile.Malformed(broken.Path, broken.Problem);
        // Profiles are 0600: without root the NIC's own may be among those that could not be read.
        if (_unreadable.FirstOrDefault() is { } denied) throw denied;
        foreach (var (path, file) in keyfiles)
        {
            if (!IsEthernet(file) || file.Get("connection", "interface-name") != nic) continue;
            result.Add(new NicProfile(path, ReadIp(file, NicMac(file)), ControllerOf(file)) { Text = root.TryReadText(path) });
        }
        // NetworkManager's ifcfg-rh plugin (RHEL 8/9) reads these too; NM_CONTROLLED=no ones it ignores.
        string ifcfg = NetworkScriptsConfig.IfcfgPath(nic);
        if (root.TryReadText(ifcfg) is { } text)
        {
            var file = IfcfgFile.Parse(text, ifcfg);
            if (!string.Equals(file.Get("NM_CONTROLLED"), "no", StringComparison.OrdinalIgnoreCase))
                result.Add(new NicProfile(ifcfg, NetworkScriptsConfig.ReadIp(file), file.Get("BRIDGE")) { Text = text });
        }
        return result;
    }

    public NicProfile? FindSavedProfile(string bridge, string nic)
    {
        foreach (string path in FindNicProfiles(nic).Select(p => p.Path).Append(NetworkScriptsConfig.IfcfgPath(nic)).Distinct())
        {
            if (root.TryReadText(SavedOriginals.PathFor(path, bridge)) is not { } text) continue;
            if (path.Contains("/ifcfg-", StringComparison.Ordinal))
                return new NicProfile(path, NetworkScriptsConfig.ReadIp(IfcfgFile.Parse(text, path)), null) { Text = text, FromSavedOriginal = true };
            var file = Keyfile.ParseStrict(text, SavedOriginals.PathFor(path, bridge));
            return new NicProfile(path, ReadIp(file, NicMac(file)), null) { Text = text, FromSavedOriginal = true };
        }
        return null;
    }

    /// <summary>The MAC the network knows the NIC by: an explicit cloned MAC, else the hardware's.</summary>
    private static string? NicMac(Keyfile file) =>
        file.Get("ethernet", "cloned-mac-address") is { } cloned && BridgeConfigs.IsMacAddress(cloned) ? cloned : file.Get("ethernet", "mac-address");

    public IReadOnlyList<string> ConfiguredNics() =>
        ReadKeyfiles().Where(k => IsEthernet(k.File) && ControllerOf(k.File) is null)
            .Select(k => k.File.Get("connection", "interface-name")).OfType<string>().Distinct().ToList();

    public IReadOnlyList<ConfiguredBridge> FindBridges()
    {
        var files = ReadKeyfiles();
        var bridges = new List<ConfiguredBridge>();
        foreach (var (path, file) in files)
        {
            if (file.Get("connection", "type") != "bridge") continue;
            // Old profiles name the device in [bridge] interface-name (NetworkManager still reads that).
            string name = file.Get("connection", "interface-name") ?? file.Get("bridge", "interface-name") ?? file.Get("connection", "id") ?? Path.GetFileNameWithoutExtension(path);
            string? uuid = file.Get("connection", "uuid");
            string? id = file.Get("connection", "id");
            var portFiles = files.Where(f => ControllerOf(f.File) is { } c && (c == name || c == uuid || c == id)).ToList();
            var ports = portFiles.Select(f => f.File.Get("connection", "interface-name")).OfType<string>().Distinct().ToList();
            int? delay = int.TryParse(file.Get("bridge", "forward-delay"), NumberStyles.None, CultureInfo.InvariantCulture, out int d) ? d : null;
            var owned = new List<string> { path };
            owned.AddRange(portFiles.Select(f => f.Path));
            bridges.Add(new ConfiguredBridge(name, path, ReadIp(file, file.Get("bridge", "mac-address") ?? file.Get("ethernet", "cloned-mac-address")),
                file.Get("bridge", "stp") != "false", delay, ports, owned));
        }
        // ifcfg bridges NetworkManager manages (ifcfg-rh: everything not NM_CONTROLLED=no), as New-HostBridge writes them
        // where the NIC's own profile is an ifcfg file.
        foreach (var bridge in new NetworkScriptsConfig(root).FindBridges())
        {
            string? text = root.TryReadText(bridge.Path);
            if (text is not null && !string.Equals(IfcfgFile.Parse(text).Get("NM_CONTROLLED"), "no", StringComparison.OrdinalIgnoreCase))
                bridges.Add(bridge);
        }
        return bridges;
    }

    public BridgeRendering RenderRemoval(ConfiguredBridge bridge, string nic, ConfiguredIp ip, CarryContext context)
    {
        if (bridge.Path.Contains("/ifcfg-", StringComparison.Ordinal))
            return IfcfgBridgeFiles.RenderRemoval(root, bridge, nic, ip, context, networkManager: true);

        var files = bridge.Files.Select(f => new PlannedFile(f, null, Modes.SecretFile, "bridge")).ToList();
        var notes = new List<string>();
        var bridgeFile = Keyfile.Parse(root.TryReadText(bridge.Path) ?? string.Empty);
        var own = FindNicProfiles(nic).Where(p => p.Controller is null && !p.Path.StartsWith("/run/", StringComparison.Ordinal)).ToList();
        bool layer3Given = false;
        foreach (var profile in own)
        {
            var mode = profile.IsIfcfg ? Modes.ConfigFile : Modes.SecretFile;
            string? original = root.TryReadText(SavedOriginals.PathFor(profile.Path, bridge.Name));
            if (original is not null)
            {
                bool unchanged = Unchanged(bridgeFile, profile, original, context);
                files.Add(unchanged
                    ? SavedOriginals.Restore(root, profile.Path, bridge.Name, mode, "interface, as it was")
                    : new PlannedFile(profile.Path, Reapply(original, bridgeFile, bridge.Name, nic, profile.IsIfcfg), mode, "interface, with the bridge's settings"));
                files.Add(SavedOriginals.Remove(profile.Path, bridge.Name, mode));
                if (!unchanged)
                    notes.Add($"{bridge.Name}'s settings changed after it was made: {profile.Path} gets the bridge's layer 3 settings, the rest as it was.");
                layer3Given = true;
            }
            else if (profile.IsIfcfg)
            {
                var file = IfcfgFile.Parse(root.TryReadText(profile.Path) ?? string.Empty, profile.Path);
                files.Add(new PlannedFile(profile.Path, file.Set("ONBOOT", "yes").Render(), Modes.ConfigFile, "interface"));
            }
            else if (!layer3Given)
            {
                // A bridge made by hand or by an older KvmHost: no saved original, so the profile gets its autoconnect and the bridge's layer 3.
                files.Add(new PlannedFile(profile.Path, Reapply(root.TryReadText(profile.Path) ?? string.Empty, bridgeFile, bridge.Name, nic, false, enable: true),
                    Modes.SecretFile, "interface"));
                layer3Given = true;
            }
        }
        if (own.Count == 0)
        {
            var file = new Keyfile()
                .Set("connection", "id", nic)
                .Set("connection", "uuid", StableUuid(nic))
                .Set("connection", "type", "ethernet")
                .Set("connection", "interface-name", nic)
                .AddGroup("ethernet");
            files.Add(new PlannedFile(KeyfilePath(nic), Reapply(file.Render(), bridgeFile, bridge.Name, nic, false), Modes.SecretFile, "interface"));
        }
        return new BridgeRendering(files) { Notes = notes };
    }

    /// <summary>Whether the bridge still carries exactly what New-HostBridge carried from this original (then it comes back byte for byte).</summary>
    private static bool Unchanged(Keyfile bridgeFile, NicProfile profile, string original, CarryContext context)
    {
        if (profile.IsIfcfg) return true; // a disabled ifcfg next to a keyfile source: only its ONBOOT changed
        try
        {
            var carry = KeyfileCarry.Compute(profile with { Text = original }, Keyfile.ParseStrict(original, profile.Path), context);
            return carry.ExpectedProjection().SetEquals(KeyfileCarry.BridgeProjection(bridgeFile));
        }
        catch (KvmHostException) { return false; }
    }

    /// <summary>The NIC's profile with the bridge's layer 3 settings (and connection keys) in place of its own.</summary>
    private static string Reapply(string original, Keyfile bridgeFile, string bridge, string nic, bool ifcfg, bool enable = false)
    {
        if (ifcfg) return IfcfgFile.Parse(original).Set("ONBOOT", "yes").Render();
        var file = Keyfile.Parse(original);
        if (enable) file.Remove("connection", "autoconnect");
        foreach (var (key, value) in bridgeFile.Entries("connection").Where(e => KeyfileCarry.PlaceOfConnectionKey(e.Key) is SettingPlace.Bridge or SettingPlace.Both))
            file.Set("connection", key, value);
        foreach (string group in bridgeFile.Groups.Where(KeyfileCarry.IsBridgeGroup))
        {
            file.RemoveGroup(group).AddGroup(group);
            foreach (var (key, value) in bridgeFile.Entries(group))
                file.Set(group, key, key.StartsWith("routing-rule", StringComparison.Ordinal) ? KeyfileCarry.RewriteRule(value, bridge, nic) : value);
        }
        return file.Render();
    }

    /// <summary>
    /// Turns off a profile's autoconnect with the smallest edit (one line), so the rest stays as the admin wrote it:
    /// autoconnect=false where NetworkManager itself writes it (after type=), or in place of an existing autoconnect line.
    /// </summary>
    private static PlannedFile Disable(string path, string text)
    {
        if (path.Contains("/ifcfg-", StringComparison.Ordinal))
            return new PlannedFile(path, IfcfgFile.Parse(text, path).Set("ONBOOT", "no").Render(), Modes.ConfigFile, "previous profile, disabled");
        var lines = text.Replace("\r\n", "\n").Split('\n').ToList();
        int start = lines.FindIndex(l => l.Trim() == "[connection]");
        int end = start < 0 ? -1 : lines.FindIndex(start + 1, l => l.TrimStart().StartsWith('['));
        if (end < 0) end = lines.Count;
        int existing = start < 0 ? -1 : lines.FindIndex(start + 1, end - start - 1, l => l.Split('=', 2)[0].Trim() == "autoconnect");
        if (existing >= 0) lines[existing] = "autoconnect=false";
        else if (start >= 0)
        {
            int type = lines.FindIndex(start + 1, end - start - 1, l => l.Split('=', 2)[0].Trim() == "type");
            lines.Insert(type >= 0 ? type + 1 : start + 1, "autoconnect=false");
        }
        else lines.InsertRange(0, ["[connection]", "autoconnect=false", string.Empty]);
        return new PlannedFile(path, string.Join('\n', lines), Modes.SecretFile, "previous profile, disabled");
    }

    internal static void WriteIp(Keyfile file, ConfiguredIp ip)
    {
        var v4 = ip.Addresses.Where(a => !a.IsIPv6).ToList();
        var v6 = ip.Addresses.Where(a => a.IsIPv6).ToList();
        for (int i = 0; i < v4.Count; i++) file.Set("ipv4", $"address{i + 1}", v4[i].ToString());
        var dns4 = ip.DnsServers.Where(d => d.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).ToList();
        if (dns4.Count > 0) file.Set("ipv4", "dns", Keyfile.JoinList(dns4.Select(d => d.ToString())));
        if (ip.Gateway is not null) file.Set("ipv4", "gateway", ip.Gateway.ToString());
        file.Set("ipv4", "method", ip.Dhcp ? "auto" : v4.Count > 0 ? "manual" : "disabled");
        WriteRoutes(file, "ipv4", ip.Routes.Where(r => !r.Destination.Contains(':')));

        for (int i = 0; i < v6.Count; i++) file.Set("ipv6", $"address{i + 1}", v6[i].ToString());
        var dns6 = ip.DnsServers.Where(d => d.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6).ToList();
        if (dns6.Count > 0) file.Set("ipv6", "dns", Keyfile.JoinList(dns6.Select(d => d.ToString())));
        if (ip.Gateway6 is not null) file.Set("ipv6", "gateway", ip.Gateway6.ToString());
        file.Set("ipv6", "method", ip.Dhcp || ip.Ipv6Auto ? "auto" : v6.Count > 0 ? "manual" : ip.Ipv6Disabled ? "disabled" : "ignore");
        WriteRoutes(file, "ipv6", ip.Routes.Where(r => r.Destination.Contains(':')));
    }

    private static void WriteRoutes(Keyfile file, string group, IEnumerable<BridgeRoute> routes)
    {
        int n = 1;
        foreach (var route in routes)
        {
            string value = route.Destination + (route.Gateway is not null || route.Metric is not null ? "," + (route.Gateway ?? (group == "ipv4" ? "0.0.0.0" : "::")) : string.Empty)
                + (route.Metric is { } m ? "," + m.ToString(CultureInfo.InvariantCulture) : string.Empty);
            file.Set(group, $"route{n++}", value);
        }
    }

    internal static ConfiguredIp ReadIp(Keyfile file, string? mac)
    {
        var addresses = new List<IpCidr>();
        IPAddress? gateway = BridgeConfigs.TryAddress(file.Get("ipv4", "gateway"));
        IPAddress? gateway6 = BridgeConfigs.TryAddress(file.Get("ipv6", "gateway"));
        var routes = new List<BridgeRoute>();
        foreach (string group in new[] { "ipv4", "ipv6" })
        {
            foreach (var (key, value) in file.Entries(group))
            {
                // "address1=1.2.3.4/24,1.2.3.1": older writers put the gateway after the address.
                string[] parts = value.Split(',');
                if (key.StartsWith("address", StringComparison.Ordinal) && BridgeConfigs.TryCidr(parts[0]) is { } cidr)
                {
                    addresses.Add(cidr);
                    if (parts.Length > 1 && BridgeConfigs.TryAddress(parts[1]) is { } legacyGateway)
                        if (group == "ipv4") gateway ??= legacyGateway; else gateway6 ??= legacyGateway;
                }
                else if (key.StartsWith("route", StringComparison.Ordinal) && !key.Contains('_'))
                {
                    int? metric = parts.Length > 2 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int m) ? m : null;
                    string? via = parts.Length > 1 && parts[1] is not ("0.0.0.0" or "::") ? parts[1] : null;
                    routes.Add(new BridgeRoute(parts[0], via, metric));
                }
            }
        }
        var dns = file.GetList("ipv4", "dns").Concat(file.GetList("ipv6", "dns"))
            .Select(BridgeConfigs.TryAddress).OfType<IPAddress>().ToList();
        return new ConfiguredIp
        {
            Dhcp = file.Get("ipv4", "method") is "auto",
            Ipv6Auto = file.Get("ipv6", "method") is "auto" or "dhcp",
            Ipv6Disabled = file.Get("ipv6", "method") is "disabled",
            Addresses = addresses,
            Gateway = gateway,
            Gateway6 = gateway6,
            DnsServers = dns,
            Routes = routes,
            MacAddress = mac,
            Mtu = int.TryParse(file.Get("ethernet", "mtu"), NumberStyles.None, CultureInfo.InvariantCulture, out int mtu) ? mtu : null,
        };
    }

    private static bool IsEthernet(Keyfile file) => file.Get("connection", "type") is "ethernet" or "802-3-ethernet";

    private static string? ControllerOf(Keyfile file) => file.Get("connection", "controller") ?? file.Get("connection", "master");

    private readonly List<(string Path, string Text, string Problem)> _malformed = [];
    private readonly List<KvmHostException> _unreadable = [];

    private static bool MentionsInterface(string path, string text, string nic) =>
        Path.GetFileName(path) == $"{nic}.nmconnection"
        || text.Split('\n').Any(line => line.Trim() is var l && l.StartsWith("interface-name", StringComparison.Ordinal)
            && l.Split('=', 2) is [var key, var value] && key.Trim() == "interface-name" && value.Trim() == nic);

    /// <summary>
    /// The profiles NetworkManager would load. A malformed one it skips is kept aside (it may be the NIC's: then
    /// that is the error), and one that cannot be read for permission (0600, no root) too: a preview must not plan without it.
    /// </summary>
    private List<(string Path, Keyfile File)> ReadKeyfiles()
    {
        _malformed.Clear();
        _unreadable.Clear();
        var skipped = new List<SkippedFile>();
        var result = new List<(string, Keyfile)>();
        foreach (var (path, text) in new[] { Directory, RunDirectory }.SelectMany(directory => root.ReadTextFiles(directory, IsProfileName, skipped: skipped)))
        {
            if (Keyfile.FindProblem(text) is { } problem) _malformed.Add((path, text, problem));
            else result.Add((path, Keyfile.Parse(text)));
        }
        _unreadable.AddRange(skipped.Select(s => s.Failure).OfType<KvmHostException>().Where(e => e.Kind == FailureKind.PermissionDenied));
        return result;
    }

    // NetworkManager skips hidden files, backups and editor leftovers the same way.
    private static bool IsProfileName(string name) =>
        !(name.StartsWith('.') || name.Contains(AtomicFileWriter.BackupMarker) || name.EndsWith('~') || name.EndsWith(".bak", StringComparison.Ordinal)
          || name.EndsWith(".orig", StringComparison.Ordinal) || name.EndsWith(".rej", StringComparison.Ordinal)
          || name.EndsWith(".swp", StringComparison.Ordinal) || name.EndsWith(".tmp", StringComparison.Ordinal));
}
