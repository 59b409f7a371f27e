using System.Net;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

public sealed record BridgeOutcome(IReadOnlyList<FileChange> FileChanges, IReadOnlyList<string> LiveLog, IReadOnlyList<BridgeProbe> Probes,
    bool RolledBack, string? RollbackReason, LiveNetworkState? After);

/// <summary>
/// Applies a plan. Offline it only writes files. Live it works under a rollback guard: it finds which
/// probes answer now, takes a NetworkManager checkpoint (NetworkManager backend) or relies on the
/// captured link state (network-scripts backend), writes the files, changes the running network,
/// checks that the bridge is there and that every probe that answered before answers again within the
/// rollback timeout, and otherwise puts back files and network state.
/// </summary>
public sealed class BridgeApplier(HostSystem host, AtomicFileWriter writer, IReachability reachability)
{
    private readonly ICommandRunner _runner = host.Runner;
    private readonly CancellationToken _cancellation = host.Cancellation;

    /// <summary>A plan that changes the running network is only made for the running system.</summary>
    private RunningSystem Running => host.Running ?? throw new InvalidOperationException("A live bridge plan needs the running system.");

    /// <summary>NetworkManager's own rollback comes this long after ours, so it only fires if this process died.</summary>
    public static readonly TimeSpan CheckpointGrace = TimeSpan.FromSeconds(30);

    public BridgeOutcome Apply(BridgePlan plan, TimeSpan rollbackTimeout)
    {
        var changes = new List<FileChange>();
        if (plan.Live is not { Needed: true } live)
        {
            WriteFiles(plan, changes);
            return new BridgeOutcome(changes, [], [], false, null, null);
        }

        var s = plan.Settings;
        var log = new List<string>();
        var probes = live.ProbeTargets.Select(t => (Target: t, Before: reachability.Answers(t, TimeSpan.FromSeconds(3), _cancellation))).ToList();
        var nm = plan.Config.Backend == BridgeBackend.NetworkManager ? Running.NetworkManager : null;
        string? checkpoint = null;
        var deadline = DateTime.UtcNow + rollbackTimeout;
        try
        {
            if (nm is not null)
                checkpoint = nm.CreateCheckpoint((int)Math.Ceiling((rollbackTimeout + CheckpointGrace).TotalSeconds), log);
            WriteFiles(plan, changes);
            deadline = DateTime.UtcNow + rollbackTimeout;
            if (nm is not null) ActivateWithNetworkManager(nm, plan, changes, log);
            else new IpRouteBridge(_runner, _cancellation).Apply(IpRouteBridge.Commands(s, live), log);

            var after = WaitForBridge(s, live, deadline);
            if (after.Problem is { } problem) throw new RollbackNeeded(problem);
            var results = new List<BridgeProbe>();
            foreach (var (target, before) in probes)
            {
                bool? answered = before ? reachability.Answers(target, Remaining(deadline), _cancellation) : null;
                results.Add(new BridgeProbe(target.ToString(), before, answered));
            }
            if (results.FirstOrDefault(r => r.After == false) is { } failed)
                throw new RollbackNeeded($"{failed.Target} answered before the change and not within {rollbackTimeout.TotalSeconds:0} s after it.", results);
            if (checkpoint is not null) nm!.Destroy(checkpoint, log);
            return new BridgeOutcome(changes, log, results, false, null, after.State);
        }
        catch (Exception e) when (e is RollbackNeeded or KvmHostException or OperationCanceledException)
        {
            string reason = e is RollbackNeeded ? e.Message : $"the change failed: {e.Message}";
            log.Add($"Rolling back: {reason}");
            if (nm is not null && checkpoint is not null)
            {
                if (!nm.Rollback(checkpoint, log)) log.Add("NetworkManager could not restore every device; see its journal.");
            }
            UndoFiles(changes, log);
            if (nm is not null) nm.Reload(log);
            // The checkpoint restores what NetworkManager managed; a NIC it only saw as externally
            // configured can come back without its addresses. The captured state covers that too.
            if (nm is null || !LooksRestored(s, live.Before))
                new IpRouteBridge(_runner, CancellationToken.None).Restore(s, live.Before, log);
            if (e is OperationCanceledException) throw;
            var before = (e as RollbackNeeded)?.Probes ?? probes.Select(p => new BridgeProbe(p.Target.ToString(), p.Before, null)).ToList();
            var recheck = before.Select(p => p.Before
                ? p with { After = reachability.Answers(IPAddress.Parse(p.Target), TimeSpan.FromSeconds(10), CancellationToken.None) }
                : p).ToList();
            log.Add("After the rollback: " + (recheck.Count == 0 ? "no probes" : string.Join("; ", recheck)));
            return new BridgeOutcome(changes.Select(c => c with { Changed = false }).ToList(), log, recheck, true, reason,
                SafeRead());
        }
    }

    private void WriteFiles(BridgePlan plan, List<FileChange> changes)
    {
        try
        {
            foreach (var file in plan.Files.Where(f => f.Changes))
                changes.Add(Write(writer, file.File));
        }
        catch (KvmHostException) when (plan.Live is null)
        {
            UndoFiles(changes, []);
            throw;
        }
    }

    /// <summary>One planned file through the atomic writer: removed, written as text, or (a saved original) as its exact bytes.</summary>
    internal static FileChange Write(AtomicFileWriter writer, PlannedFile file) =>
        file.Content is null ? writer.Delete(file.Path, hiddenBackup: true)
        : file.Bytes is { } bytes ? writer.Write(file.Path, bytes, file.Mode, hiddenBackup: true)
        : writer.Write(file.Path, file.Content, file.Mode, hiddenBackup: true);

    private void ActivateWithNetworkManager(NetworkManagerClient nm, BridgePlan plan, List<FileChange> changes, List<string> log)
    {
        if (changes.Any(c => c.Deleted)) nm.Reload(log);
        foreach (var change in changes.Where(c => c.Changed && !c.Deleted)) nm.Run(NetworkManagerClient.LoadArguments(change.Path), log);
        var s = plan.Settings;
        nm.Run(NetworkManagerClient.UpArguments(NetworkManagerConfig.StableUuid(s.Name)), log);
        // autoconnect-ports normally brings the port along; activate it by hand when it did not.
        var state = Running.ReadNetwork();
        if (state.Link(s.Port)?.Master != s.Name)
            nm.Run(NetworkManagerClient.UpArguments(plan.PortUuid ?? NetworkManagerConfig.StableUuid(NetworkManagerConfig.PortId(s.Name, s.Port))), log);
    }

    /// <summary>The bridge exists, has the NIC as port and carries its addresses (NetworkManager may take a moment).</summary>
    private (LiveNetworkState? State, string? Problem) WaitForBridge(BridgeSettings s, LivePlan live, DateTime deadline)
    {
        string? problem;
        LiveNetworkState state;
        do
        {
            state = Running.ReadNetwork();
            var bridge = state.Link(s.Name);
            problem = bridge is null ? $"the bridge {s.Name} does not exist after the change"
                : state.Link(s.Port)?.Master != s.Name ? $"{s.Port} is not a port of {s.Name} after the change"
                : live.BridgeAddresses.FirstOrDefault(a => !bridge.Addresses.Any(b => b.Cidr.Equals(a))) is { } missing ? $"{s.Name} does not carry {missing} after the change"
                : null;
            if (problem is null) return (state, null);
            _cancellation.WaitHandle.WaitOne(300);
        }
        while (DateTime.UtcNow < deadline);
        return (state, problem);
    }

    private void UndoFiles(List<FileChange> changes, List<string> log)
    {
        foreach (var change in Enumerable.Reverse(changes))
        {
            try
            {
                writer.Undo(change);
                if (change.Changed) log.Add($"restored {change.Path}");
            }
            catch (KvmHostException e)
            {
                log.Add($"could not restore {change.Path}: {e.Message} (backup: {change.BackupPath ?? "none"})");
            }
        }
    }

    private bool LooksRestored(BridgeSettings s, LiveNetworkState before)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var now = SafeRead();
            var nic = now?.Link(s.Port);
            var was = before.Link(s.Port);
            bool restored = nic is not null && was is not null && nic.Master == was.Master
                && (before.Link(s.Name) is not null || now!.Link(s.Name) is null)
                && was.Addresses.Where(a => a.IsGlobal).All(a => nic.Addresses.Any(b => b.Cidr.Equals(a.Cidr)));
            if (restored || DateTime.UtcNow >= deadline) return restored;
            Thread.Sleep(300);
        }
    }

    private LiveNetworkState? SafeRead()
    {
        try { return Running.ReadNetwork(CancellationToken.None); }
        catch (KvmHostException) { return null; }
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }

    private sealed class RollbackNeeded(string reason, IReadOnlyList<BridgeProbe>? probes = null) : Exception(reason)
    {
        public IReadOnlyList<BridgeProbe>? Probes { get; } = probes;
    }
}
