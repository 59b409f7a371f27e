using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>Removes a bridge and gives its NIC the bridge's IP settings back, under the same rollback guard as New-HostBridge.</summary>
[Cmdlet(VerbsCommon.Remove, "HostBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(HostBridge))]
public sealed class RemoveHostBridgeCommand : KvmHostCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string Name { get; set; } = string.Empty;

    [Parameter]
    public BridgeBackend Backend { get; set; }

    [Parameter]
    [ValidateRange(5, 3600)]
    public int RollbackTimeout { get; set; } = 60;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessCore()
    {
        string name = InterfaceName.Validate(Name, nameof(Name));
        Privileges.RequireRootFor(HostRoot, $"Removing the bridge {name}");
        var backend = MyInvocation.BoundParameters.ContainsKey(nameof(Backend)) ? Backend : (BridgeBackend?)null;

        using var hostLock = LockHost();
        LiveNetworkState? live = HostRoot.IsLive ? new LiveNetworkReader(Runner).Read(Cancellation) : null;
        var configs = new List<IBridgeConfig>();
        var order = backend is { } only ? [only] : new[] { PreferredBackend(), PreferredBackend() == BridgeBackend.NetworkScripts ? BridgeBackend.NetworkManager : BridgeBackend.NetworkScripts };
        foreach (var b in order) configs.Add(BridgeConfigs.For(b, HostRoot, false));
        var plan = BridgeRemover.Plan(name, HostRoot, configs, live, Environment.GetEnvironmentVariable("SSH_CONNECTION"));
        var liveChanges = BridgeRemover.DescribeLive(plan);

        bool approved = true;
        foreach (var file in plan.Files.Where(f => f.Changes))
            approved &= ShouldProcess(HostRoot.Describe(file.File.Path), file.File.Content is null ? "Remove (keeping a backup)" : $"Write ({file.File.Purpose}, keeping a backup)");
        if (plan.LiveNeeded)
            approved &= ShouldProcess($"running network: {name} -> {plan.Port ?? "(no port)"}", $"Apply under a {RollbackTimeout} s rollback guard: {string.Join("; ", liveChanges)}");
        if (approved && plan.Risks.Count > 0 && !Force)
        {
            try { approved = ShouldContinue($"{string.Join(" ", plan.Risks)} Remove {name} now?", "Removing the management bridge"); }
            catch (Exception e) when (e is PSInvalidOperationException or System.Management.Automation.Host.HostException or NotImplementedException)
            {
                throw new KvmHostException(ErrorIds.BridgeConfirmationRequired, FailureKind.InvalidOperation,
                    $"{string.Join(" ", plan.Risks)} This needs a confirmation, and this session cannot prompt. Nothing was changed.", name,
                    "Add -Force to go ahead without the prompt (the rollback guard still applies).", e);
            }
        }

        var outcome = approved && plan.Changes
            ? new BridgeRemover(Runner, Writer, new IcmpReachability(), Cancellation).Apply(plan, TimeSpan.FromSeconds(RollbackTimeout))
            : null;
        foreach (string line in outcome?.LiveLog ?? []) WriteVerbose(line);
        if (outcome is { RolledBack: true })
            WriteFailure(new KvmHostException(ErrorIds.BridgeRolledBack, FailureKind.InvalidOperation,
                $"Removing {name} was rolled back: {outcome.RollbackReason}", name, "The bridge is as it was. Check the result's Probes and LiveChanges."));
        WriteObject(new HostBridge
        {
            Name = name,
            Ports = plan.Port is null ? [] : [plan.Port],
            Addresses = plan.Ip.Addresses.Select(a => a.ToString()).ToArray(),
            Gateway = plan.Ip.Gateway?.ToString(),
            Gateway6 = plan.Ip.Gateway6?.ToString(),
            DnsServers = plan.Ip.DnsServers.Select(d => d.ToString()).ToArray(),
            Dhcp = plan.Ip.Dhcp,
            Backend = plan.Configured is null ? null : plan.Config.Backend.ToString(),
            ConfigurationFiles = plan.Files.Where(f => f.File.Content is not null).Select(f => f.File.Path).ToArray(),
            Active = outcome is { RolledBack: true } || (!approved && plan.LiveNeeded),
            Changed = outcome is { RolledBack: false } && (outcome.FileChanges.Any(c => c.Changed) || outcome.LiveLog.Count > 0),
            RolledBack = outcome?.RolledBack ?? false,
            RollbackReason = outcome?.RollbackReason,
            WhatIf = !approved,
            RuntimeApplied = outcome is { RolledBack: false } && outcome.LiveLog.Count > 0,
            FileChanges = (outcome?.FileChanges ?? []).ToArray(),
            LiveChanges = (outcome?.LiveLog ?? liveChanges).ToArray(),
            Probes = (outcome?.Probes ?? []).ToArray(),
            Notes = HostRoot.IsLive ? [] : [$"Offline root {HostRoot.Path}: only files were changed."],
            Root = HostRoot.Path,
        });
    }

    private BridgeBackend PreferredBackend()
    {
        try { return Release.BridgeBackend; }
        catch (KvmHostException) { return BridgeBackend.NetworkManager; }
    }
}
