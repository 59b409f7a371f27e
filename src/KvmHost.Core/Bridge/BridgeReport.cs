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

    /// <summary>How a file change reads in a prompt and in PlannedChanges: the action, then the path.</summary>
    public static string DescribeFile(FilePlan file) =>
        file.File.Content is null ? "Remove (keeping a hidden backup)"
        : file.Current is null ? $"Create ({file.File.Purpose})"
        : $"Replace ({file.File.Purpose}, keeping a hidden backup)";

    /// <summary>
    /// What New-HostBridge does with this plan, step by step: files first, then the live commands, then each
    /// setting of the NIC's profile and where it goes (none when nothing is to do).
    /// </summary>
    public static IReadOnlyList<string> PlannedChanges(BridgePlan plan, TimeSpan rollbackTimeout) =>
        !plan.Changes ? []
        : plan.Files.Where(f => f.Changes).Select(f => $"{DescribeFile(f)}: {f.File.Path}")
            .Concat(DescribeLive(plan, rollbackTimeout).Select(c => $"Run: {c}"))
            .Concat(plan.Carried.Select(c => $"Carry: {c}"))
            .ToList();

    /// <summary>
    /// The result of New-HostBridge. Its state is read back after the call (the bridge as it is now: under
    /// -WhatIf, or after a rollback, that is the state before), never the plan's projection.
    /// </summary>
    public static HostBridgeResult ForNew(BridgePlan plan, HostSystem host, BridgeOutcome? outcome, bool whatIf, TimeSpan rollbackTimeout)
    {
        var root = host.Root;
        var notes = plan.Notes.ToList();
        if (host.Running is null) notes.Add($"Offline root {root.Path}: only files are written; the running network is not touched.");
        notes.AddRange(plan.Risks);
        var state = State(root, outcome?.After ?? plan.Live?.Before, plan.Settings.Name);
        return new HostBridgeResult(state)
        {
            Notes = state.Notes.Concat(notes).Distinct().ToArray(),
            Changed = !whatIf && outcome is not null && !outcome.RolledBack && (outcome.FileChanges.Any(c => c.Changed) || outcome.LiveLog.Count > 0),
            RolledBack = outcome?.RolledBack ?? false,
            RollbackReason = outcome?.RollbackReason,
            WhatIf = whatIf,
            RuntimeApplied = !whatIf && host.Running is not null && outcome is not null && !outcome.RolledBack && outcome.LiveLog.Count > 0,
            PlannedChanges = PlannedChanges(plan, rollbackTimeout).ToArray(),
            Blockers = plan.Blockers.Select(b => $"{b.ErrorId}: {b.Message}").ToArray(),
            FileChanges = (outcome?.FileChanges ?? []).ToArray(),
            LiveChanges = (outcome?.LiveLog ?? []).ToArray(),
            Probes = (outcome?.Probes ?? []).ToArray(),
        };
    }

    /// <summary>The result of Remove-HostBridge: the bridge as it is after the call (gone, unless -WhatIf or a rollback kept it).</summary>
    public static HostBridgeResult ForRemoval(RemovalPlan plan, HostSystem host, BridgeOutcome? outcome, bool whatIf)
    {
        var root = host.Root;
        var notes = new List<string>();
        if (host.Running is null) notes.Add($"Offline root {root.Path}: only files are changed; the running network is not touched.");
        if (plan.Port is not null && plan.Configured is not null)
            notes.Add(plan.Files.Any(f => f.File.Purpose.EndsWith("as it was", StringComparison.Ordinal)) && plan.Notes.Count == 0
                ? $"{plan.Port} gets its own files back as they were before the bridge."
                : $"{plan.Port} gets the bridge's settings: {(plan.Ip.Dhcp ? "DHCP" : string.Join(", ", plan.Ip.Addresses))}.");
        notes.AddRange(plan.Notes);
        notes.AddRange(plan.Risks);
        var after = outcome is null || outcome.RolledBack || host.Running is null ? plan.Before : outcome.After;
        var state = State(root, after, plan.Name);
        return new HostBridgeResult(state)
        {
            Notes = state.Notes.Concat(notes).Distinct().ToArray(),
            Changed = outcome is { RolledBack: false } && (outcome.FileChanges.Any(c => c.Changed) || outcome.LiveLog.Count > 0),
            RolledBack = outcome?.RolledBack ?? false,
            RollbackReason = outcome?.RollbackReason,
            WhatIf = whatIf,
            RuntimeApplied = outcome is { RolledBack: false } && outcome.LiveLog.Count > 0,
            PlannedChanges = plan.Files.Where(f => f.Changes).Select(f => $"{DescribeFile(f)}: {f.File.Path}")
                .Concat(BridgeRemover.DescribeLive(plan).Select(c => $"Run: {c}")).ToArray(),
            Blockers = plan.Blockers.Select(b => $"{b.ErrorId}: {b.Message}").ToArray(),
            FileChanges = (outcome?.FileChanges ?? []).ToArray(),
            LiveChanges = (outcome?.LiveLog ?? []).ToArray(),
            Probes = (outcome?.Probes ?? []).ToArray(),
        };
    }

    /// <summary>One bridge as Get-HostBridge would show it; a bridge that is nowhere comes back with its name only.</summary>
    public static HostBridge State(HostRoot root, LiveNetworkState? live, string name) =>
        Inventory(root, live).FirstOrDefault(b => b.Name == name) ?? new HostBridge { Name = name, Root = root.Path };

    /// <summary>Every bridge in the configuration files of both backends and, on the running system, in its network (where iproute2 can read it).</summary>
    public static IReadOnlyList<HostBridge> Inventory(HostSystem host) => Inventory(host.Root, host.Running?.TryReadNetwork());

    /// <summary>Every bridge in the configuration files of both backends and in <paramref name="live"/>, the running network if any.</summary>
    internal static IReadOnlyList<HostBridge> Inventory(HostRoot root, LiveNetworkState? live)
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
            if (link is null && live is not null) notes.Add("Configured but not running.");
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
