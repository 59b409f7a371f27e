using System.Globalization;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>Builds the <see cref="HostBridge"/> objects the cmdlets emit, and what -WhatIf lists.</summary>
public static class BridgeReport
{
    /// <summary>The live commands a plan runs, in order, as an admin could paste them.</summary>
    public static IReadOnlyList<string> DescribeLive(BridgePlan plan, TimeSpan rollbackTimeout)
    {
        if (plan.Live is not { Needed: true } live) return [];
        var s = plan.Settings;
        if (plan.Config.Backend == BridgeBackend.NetworkScripts)
            return IpRouteBridge.Commands(s, live).Select(IpRouteBridge.Show).ToList();
        int seconds = (int)Math.Ceiling((rollbackTimeout + BridgeApplier.CheckpointGrace).TotalSeconds);
        var lines = new List<string>
        {
            $"busctl call org.freedesktop.NetworkManager /org/freedesktop/NetworkManager org.freedesktop.NetworkManager CheckpointCreate aouu 0 {seconds.ToString(CultureInfo.InvariantCulture)} 6",
        };
        if (plan.Files.Any(f => f.Changes && f.File.Content is null)) lines.Add("nmcli connection reload");
        lines.AddRange(plan.Files.Where(f => f.Changes && f.File.Content is not null)
            .Select(f => new CommandRequest("nmcli", NetworkManagerClient.LoadArguments(f.File.Path)).CommandLine));
        lines.Add(new CommandRequest("nmcli", NetworkManagerClient.UpArguments(NetworkManagerConfig.StableUuid(s.Name))).CommandLine);
        lines.Add("busctl call ... CheckpointDestroy (probes answer) or CheckpointRollback (they do not)");
        return lines;
    }

    public static HostBridge FromPlan(BridgePlan plan, HostRoot root, BridgeOutcome? outcome, bool whatIf, IReadOnlyList<string> liveChanges)
    {
        var s = plan.Settings;
        var after = outcome?.After;
        bool active = after is not null
            ? after.Link(s.Name) is not null && after.Link(s.Port)?.Master == s.Name
            : plan.Live is { Needed: false };
        var notes = plan.Notes.ToList();
        if (!root.IsLive) notes.Add($"Offline root {root.Path}: only files were written; the running network was not touched.");
        if (plan.Risks.Count > 0) notes.AddRange(plan.Risks);
        return new HostBridge
        {
            Name = s.Name,
            Ports = [s.Port],
            MacAddress = s.MacAddress,
            Addresses = (plan.Live?.BridgeAddresses ?? s.Addresses).Select(a => a.ToString()).ToArray(),
            Gateway = s.Gateway?.ToString(),
            Gateway6 = s.Gateway6?.ToString(),
            DnsServers = s.DnsServers.Select(d => d.ToString()).ToArray(),
            Dhcp = s.Dhcp,
            Stp = s.Stp,
            ForwardDelay = s.ForwardDelay,
            Mtu = s.Mtu,
            Backend = plan.Config.Backend.ToString(),
            ConfigurationFiles = plan.Files.Where(f => f.File.Content is not null && f.File.Purpose is "bridge" or "port" or "routes").Select(f => f.File.Path).ToArray(),
            Active = !whatIf && !(outcome?.RolledBack ?? false) && root.IsLive && active,
            Changed = !whatIf && outcome is not null && !outcome.RolledBack && (outcome.FileChanges.Any(c => c.Changed) || outcome.LiveLog.Count > 0),
            RolledBack = outcome?.RolledBack ?? false,
            RollbackReason = outcome?.RollbackReason,
            WhatIf = whatIf,
            RuntimeApplied = !whatIf && root.IsLive && outcome is not null && !outcome.RolledBack && outcome.LiveLog.Count > 0,
            FileChanges = (outcome?.FileChanges ?? []).ToArray(),
            LiveChanges = (outcome?.LiveLog ?? liveChanges).ToArray(),
            Probes = (outcome?.Probes ?? []).ToArray(),
            Notes = notes.ToArray(),
            Root = root.Path,
        };
    }

    /// <summary>Every bridge in the configuration files of both backends and, on the live root, in the running system.</summary>
    public static IReadOnlyList<HostBridge> Inventory(HostRoot root, LiveNetworkState? live)
    {
        var found = new List<(ConfiguredBridge Bridge, BridgeBackend Backend)>();
        foreach (var config in new IBridgeConfig[] { new NetworkScriptsConfig(root), new NetworkManagerConfig(root, false) })
            found.AddRange(config.FindBridges().Select(b => (b, config.Backend)));
        var names = found.Select(f => f.Bridge.Name)
            .Concat(live?.Links.Where(l => l.IsBridge).Select(l => l.Name) ?? [])
            .Distinct().Order(StringComparer.Ordinal);
        var result = new List<HostBridge>();
        foreach (string name in names)
        {
            var configured = found.Where(f => f.Bridge.Name == name).ToList();
            var first = configured.Select(c => c.Bridge).FirstOrDefault();
            var link = live?.Link(name);
            var livePorts = live?.PortsOf(name).Select(p => p.Name).ToList() ?? [];
            var addresses = link is not null ? link.Addresses.Where(a => a.IsGlobal).Select(a => a.Cidr.ToString())
                : first?.Ip.Addresses.Select(a => a.ToString()) ?? [];
            var defaultRoute = live?.RoutesVia(name).FirstOrDefault(r => r.IsDefault && !r.IPv6)?.Gateway;
            var notes = new List<string>();
            if (link is not null && first is null) notes.Add("Running but not in any configuration file: it disappears at reboot.");
            if (link is null && root.IsLive) notes.Add("Configured but not running.");
            result.Add(new HostBridge
            {
                Name = name,
                Ports = livePorts.Concat(configured.SelectMany(c => c.Bridge.Ports)).Distinct().ToArray(),
                MacAddress = link?.MacAddress?.ToUpperInvariant() ?? first?.Ip.MacAddress,
                Addresses = addresses.ToArray(),
                Gateway = defaultRoute ?? first?.Ip.Gateway?.ToString(),
                Gateway6 = first?.Ip.Gateway6?.ToString(),
                DnsServers = first?.Ip.DnsServers.Select(d => d.ToString()).ToArray() ?? [],
                Dhcp = first?.Ip.Dhcp ?? false,
                Stp = first?.Stp ?? false,
                ForwardDelay = first?.ForwardDelay,
                Mtu = link?.Mtu ?? first?.Ip.Mtu,
                Backend = configured.Count == 0 ? null : string.Join(",", configured.Select(c => c.Backend.ToString()).Distinct()),
                ConfigurationFiles = configured.SelectMany(c => c.Bridge.Files).Distinct().ToArray(),
                Active = link is not null,
                Notes = notes.ToArray(),
                Root = root.Path,
            });
        }
        return result;
    }
}
