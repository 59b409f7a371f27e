using System.Net;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

public sealed record RemovalPlan
{
    public required string Name { get; init; }
    public string? Port { get; init; }
    public required IBridgeConfig Config { get; init; }
    public ConfiguredBridge? Configured { get; init; }
    /// <summary>The bridge's settings, given back to the NIC.</summary>
    public required ConfiguredIp Ip { get; init; }
    public required IReadOnlyList<FilePlan> Files { get; init; }
    public LiveNetworkState? Before { get; init; }
    public required IReadOnlyList<LiveCommand> IpCommands { get; init; }
    /// <summary>What the removal does beyond the obvious (a bridge whose settings changed since: the NIC gets those).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    public required IReadOnlyList<IPAddress> ProbeTargets { get; init; }
    public required IReadOnlyList<string> Risks { get; init; }
    /// <summary>What stops a real run (not root, NetworkManager not running); -WhatIf lists them instead.</summary>
    public IReadOnlyList<KvmHostException> Blockers { get; init; } = [];
    public bool LiveNeeded => Before?.Link(Name) is not null;
    public bool Changes => Files.Any(f => f.Changes) || LiveNeeded;
}

/// <summary>
/// Undoes a bridge: the NIC gets the bridge's current IP settings back (regenerated from the bridge's
/// profile, which is the configuration that works today, rather than an old backup that may predate
/// later edits), the bridge's files are removed with backups, and on the running host the addresses
/// and routes move back under the same probe-and-rollback guard as New-HostBridge.
/// </summary>
public sealed class BridgeRemover(HostSystem host, AtomicFileWriter writer, IReachability reachability)
{
    private readonly ICommandRunner _runner = host.Runner;
    private readonly CancellationToken _cancellation = host.Cancellation;

    /// <summary>Reads what a removal needs and plans it; reads only, takes no lock. What would stop a real run is in Blockers.</summary>
    public static RemovalPlan Prepare(string name, HostSystem host, BridgeBackend? backend, ReleaseProfile? release, string? sshConnection)
    {
        var blockers = new List<KvmHostException>();
        if (Privileges.MissingRootFor(host, $"Removing the bridge {name}") is { } notRoot) blockers.Add(notRoot);
        LiveNetworkState? live = host.Running?.ReadNetwork();
        var plan = Plan(name, host.Root, BridgeConfigs.ForRemoval(backend, host.Root, release), live, sshConnection);
        if (plan.LiveNeeded && plan.Config.Backend == BridgeBackend.NetworkManager && plan.Configured is not null
            && host.Running?.NetworkManager.IsRunning() != true)
            blockers.Add(BridgeConfigs.NetworkManagerNotRunning(release));
        // The rules as they are before the change, for putting them back: read now, not at a rollback.
        if (plan.LiveNeeded) _ = live?.Rules;
        return plan with { Blockers = blockers };
    }

    /// <summary>Whether another plan (made again under the lock) would do exactly the same.</summary>
    public static bool SameChanges(RemovalPlan a, RemovalPlan b) =>
        a.Files.Select(f => (f.File.Path, f.File.Content, f.Current)).SequenceEqual(b.Files.Select(f => (f.File.Path, f.File.Content, f.Current)))
        && a.IpCommands.Select(IpRouteBridge.Show).SequenceEqual(b.IpCommands.Select(IpRouteBridge.Show));

    public static RemovalPlan Plan(string name, HostRoot root, IReadOnlyList<IBridgeConfig> configs, LiveNetworkState? live, string? sshConnection)
    {
        var (config, configured) = configs.Select(c => (c, c.FindBridges().FirstOrDefault(b => b.Name == name)))
            .FirstOrDefault(x => x.Item2 is not null, (configs[0], null));
        var link = live?.Link(name);
        if (configured is null && link is null)
            throw new KvmHostException(ErrorIds.BridgeNotFound, FailureKind.ObjectNotFound,
                $"There is no bridge '{name}' in the configuration files{(live is null ? $" under {root.Path}" : " or on the running system")}.", name,
                "List the bridges with Get-HostBridge.");
        if (link is { IsBridge: false })
            throw new KvmHostException(ErrorIds.InterfaceNotUsable, FailureKind.InvalidArgument,
                $"{name} is a {link.Kind ?? "network device"}, not a bridge.", name, "List the bridges with Get-HostBridge.");

        var ports = (live?.PortsOf(name).Select(p => p.Name) ?? []).Concat(configured?.Ports ?? []).Distinct().ToList();
        string? port = ports.FirstOrDefault();
        var liveIp = link is null ? null : new ConfiguredIp
        {
            Addresses = link.Addresses.Where(a => a.IsGlobal && !a.Dynamic).Select(a => a.Cidr).ToList(),
            Gateway = live!.RoutesVia(name).Where(r => r.IsDefault && !r.IPv6 && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)).FirstOrDefault(),
            Gateway6 = live.RoutesVia(name).Where(r => r.IsDefault && r.IPv6 && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)).FirstOrDefault(),
        };
        var ip = configured?.Ip ?? liveIp!;

        var files = new List<FilePlan>();
        var notes = new List<string>();
        if (configured is not null && port is not null)
        {
            // The context the bridge runs in now: the carried profile is compared against the bridge as it runs.
            var context = new CarryContext
            {
                Bridge = name, Nic = port,
                LiveMetric4 = live is null ? null : BridgePlanner.MetricOfRoutes(live, name, false),
                LiveMetric6 = live is null ? null : BridgePlanner.MetricOfRoutes(live, name, true),
                PermanentMac = live?.Link(port)?.PermanentMacAddress ?? live?.Link(port)?.MacAddress ?? configured.Ip.MacAddress,
            };
            var rendering = config.RenderRemoval(configured, port, ip, context);
            files.AddRange(rendering.Files.Select(f => new FilePlan(f, root.TryReadText(f.Path))));
            notes.AddRange(rendering.Notes);
        }
        else if (configured is not null)
            files.AddRange(configured.Files.Select(f => new FilePlan(new PlannedFile(f, null, Modes.ConfigFile, "bridge"), root.TryReadText(f))));

        IReadOnlyList<LiveCommand> commands = [];
        var probes = new List<IPAddress>();
        var risks = new List<string>();
        if (link is not null && live is not null)
        {
            var routes = live.RoutesVia(name).Where(r => !r.FollowsAddress && r.Table is null).ToList();
            commands = IpRouteBridge.RemovalCommands(live, name, ports, port);
            probes.AddRange(routes.Where(r => r.IsDefault && r.Gateway is not null).Select(r => IPAddress.Parse(r.Gateway!)));
            if (routes.Any(r => r.IsDefault)) risks.Add($"{name} carries the default route: a mistake cuts this host off its network.");
            if (BridgePlanner.SshServerAddress(sshConnection) is { } server && link.Addresses.Any(a => a.Cidr.Address.Equals(server)))
                risks.Add($"This session's SSH connection arrives on {name} ({server}).");
        }
        return new RemovalPlan
        {
            Name = name, Port = port, Config = config, Configured = configured, Ip = ip, Files = files, Before = live,
            IpCommands = commands, ProbeTargets = probes.Distinct().ToList(), Risks = risks, Notes = notes,
        };
    }

    public static IReadOnlyList<string> DescribeLive(RemovalPlan plan)
    {
        if (!plan.LiveNeeded) return [];
        if (plan.Config.Backend == BridgeBackend.NetworkManager && plan.Configured is not null)
            return ["busctl call ... CheckpointCreate", "nmcli connection load <the NIC's profile>", $"nmcli connection delete uuid <{plan.Name} and its port>", $"nmcli --wait 60 device connect {plan.Port}", "busctl call ... CheckpointDestroy or CheckpointRollback"];
        return plan.IpCommands.Select(IpRouteBridge.Show).ToList();
    }

    public BridgeOutcome Apply(RemovalPlan plan, TimeSpan rollbackTimeout)
    {
        var changes = new List<FileChange>();
        var log = new List<string>();
        if (!plan.LiveNeeded)
        {
            foreach (var file in plan.Files.Where(f => f.Changes)) changes.Add(Write(file));
            return new BridgeOutcome(changes, log, [], false, null, null);
        }
        var probes = plan.ProbeTargets.Select(t => (Target: t, Before: reachability.Answers(t, TimeSpan.FromSeconds(3), _cancellation))).ToList();
        bool useNm = plan.Config.Backend == BridgeBackend.NetworkManager && plan.Configured is not null;
        var nm = useNm ? Running.NetworkManager : null;
        string? checkpoint = null;
        try
        {
            if (nm is not null) checkpoint = nm.CreateCheckpoint((int)Math.Ceiling((rollbackTimeout + BridgeApplier.CheckpointGrace).TotalSeconds), log);
            foreach (var file in plan.Files.Where(f => f.Changes)) changes.Add(Write(file));
            var deadline = DateTime.UtcNow + rollbackTimeout;
            if (nm is not null)
            {
                // NetworkManager keeps a profile whose file vanished while it is active: delete it by uuid.
                foreach (var change in changes.Where(c => c.Changed && !c.Deleted)) nm.Run(NetworkManagerClient.LoadArguments(change.Path), log);
                foreach (string uuid in plan.Files.Where(f => f.File.Content is null && f.Current is not null)
                             .Select(f => ProfileUuid(f.File.Path, f.Current!)).OfType<string>())
                    nm.RunTolerant(["connection", "delete", "uuid", uuid], log);
                if (plan.Port is not null) nm.Run(["--wait", "60", "device", "connect", plan.Port], log);
            }
            else
            {
                new IpRouteBridge(_runner, _cancellation).Apply(plan.IpCommands, log);
            }
            var results = new List<BridgeProbe>();
            foreach (var (target, before) in probes)
                results.Add(new BridgeProbe(target.ToString(), before, before ? reachability.Answers(target, Remaining(deadline), _cancellation) : null));
            var after = Running.ReadNetwork();
            string? problem = after.Link(plan.Name) is not null && nm is null ? $"{plan.Name} still exists after the change"
                : results.FirstOrDefault(r => r.After == false) is { } failed ? $"{failed.Target} answered before the change and not within {rollbackTimeout.TotalSeconds:0} s after it."
                : null;
            if (problem is not null) return RollBack(plan, nm, checkpoint, changes, log, problem, results);
            if (checkpoint is not null) nm!.Destroy(checkpoint, log);
            return new BridgeOutcome(changes, log, results, false, null, after);
        }
        catch (KvmHostException e)
        {
            return RollBack(plan, nm, checkpoint, changes, log, $"the change failed: {e.Message}",
                probes.Select(p => new BridgeProbe(p.Target.ToString(), p.Before, null)).ToList());
        }
    }

    private BridgeOutcome RollBack(RemovalPlan plan, NetworkManagerClient? nm, string? checkpoint, List<FileChange> changes, List<string> log,
        string reason, IReadOnlyList<BridgeProbe> probes)
    {
        log.Add($"Rolling back: {reason}");
        if (nm is not null && checkpoint is not null) nm.Rollback(checkpoint, log);
        foreach (var change in Enumerable.Reverse(changes))
        {
            try { writer.Undo(change); log.Add($"restored {change.Path}"); }
            catch (KvmHostException e) { log.Add($"could not restore {change.Path}: {e.Message}"); }
        }
        if (nm is not null) nm.Reload(log);
        var before = plan.Before!;
        var now = Running.ReadNetwork(CancellationToken.None);
        if (plan.Port is not null && now.Link(plan.Port)?.Master != plan.Name && before.Link(plan.Name) is { } bridge)
        {
            // Rebuild the bridge from the captured state with the same commands New-HostBridge uses.
            var settings = new BridgeSettings
            {
                Name = plan.Name, Port = plan.Port, Ip = new ConfiguredIp { MacAddress = bridge.MacAddress }, Stp = plan.Configured?.Stp ?? false,
                Context = new CarryContext { Bridge = plan.Name, Nic = plan.Port },
            };
            var live = new LivePlan
            {
                Needed = true, Before = now, ProbeTargets = [],
                BridgeAddresses = bridge.Addresses.Where(a => a.IsGlobal).Select(a => a.Cidr).ToList(),
                NoPrefixRoute = bridge.Addresses.Where(a => a.IsGlobal && a.NoPrefixRoute).Select(a => a.Cidr).ToHashSet(),
                BridgeRoutes = before.OwnRoutesVia(plan.Name).Select(r => new BridgeRoute(r.Destination, r.Gateway, r.Metric) { Table = r.Table, IPv6 = r.IPv6 }).ToList(),
                Rules = before.RulesVia(plan.Name).Select(r => r with { Spec = r.SpecFor(plan.Name, plan.Port) }).ToList(),
                Ipv6Settings = bridge.Ipv6Settings.Where(e => e.Key != "mtu").ToDictionary(e => e.Key, e => e.Value),
            };
            try { new IpRouteBridge(_runner, CancellationToken.None).Apply(IpRouteBridge.Commands(settings, live), log); }
            catch (KvmHostException e) { log.Add($"could not rebuild {plan.Name}: {e.Message}"); }
        }
        var recheck = probes.Select(p => p.Before ? p with { After = reachability.Answers(IPAddress.Parse(p.Target), TimeSpan.FromSeconds(10), CancellationToken.None) } : p).ToList();
        return new BridgeOutcome(changes.Select(c => c with { Changed = false }).ToList(), log, recheck, true, reason, null);
    }

    private FileChange Write(FilePlan file) => BridgeApplier.Write(writer, file.File);

    /// <summary>A plan that changes the running network is only made for the running system.</summary>
    private RunningSystem Running => host.Running ?? throw new InvalidOperationException("A live removal plan needs the running system.");

    /// <summary>The NetworkManager profile a removed file held (keyfile uuid=, ifcfg UUID=); saved originals and route files hold none.</summary>
    private static string? ProfileUuid(string path, string text)
    {
        string name = Path.GetFileName(path);
        if (name.StartsWith('.')) return null;
        if (name.StartsWith("ifcfg-", StringComparison.Ordinal)) return IfcfgFile.Parse(text).Get("UUID");
        return name.EndsWith(".nmconnection", StringComparison.Ordinal) ? Keyfile.Parse(text).Get("connection", "uuid") : null;
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }
}
