using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>Removes a bridge and gives its NIC the bridge's IP settings back, under the same rollback guard as New-HostBridge.</summary>
[Cmdlet(VerbsCommon.Remove, "HostBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(HostBridgeResult))]
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
        bool preview = WhatIfRequested;
        if (!preview) Privileges.RequireRootFor(HostSystem, $"Removing the bridge {name}");
        BridgeBackend? backend = MyInvocation.BoundParameters.ContainsKey(nameof(Backend)) ? Backend : null;

        // Plan without the lock: a preview, and a call refused by the plan, leave no lock file behind.
        var plan = Prepare(name, backend);
        if (!preview && plan.Blockers.Count > 0) throw plan.Blockers[0];
        var steps = plan.Files.Where(f => f.Changes).Select(f => (HostRoot.Describe(f.File.Path), BridgeReport.DescribeFile(f))).ToList();
        if (plan.LiveNeeded)
            steps.Add(($"running network: {name} -> {plan.Port ?? "(no port)"}",
                $"Apply under a {RollbackTimeout} s rollback guard: {string.Join("; ", BridgeRemover.DescribeLive(plan))}"));
        if (!ApproveOrFail(steps, plan.Risks, Force, $"Remove {name} now?", "Removing the management bridge", name, ErrorIds.BridgeConfirmationRequired))
        {
            WriteObject(BridgeReport.ForRemoval(plan, HostSystem, null, whatIf: true));
            return;
        }
        if (!plan.Changes)
        {
            WriteObject(BridgeReport.ForRemoval(plan, HostSystem, null, whatIf: preview));
            return;
        }

        using var hostLock = LockHost();
        var locked = Prepare(name, backend);
        if (!BridgeRemover.SameChanges(locked, plan))
            throw BridgeConfigs.ChangedWhileWaiting(name);
        var outcome = new BridgeRemover(HostSystem, Writer, new IcmpReachability()).Apply(locked, TimeSpan.FromSeconds(RollbackTimeout));
        foreach (string line in outcome.LiveLog) WriteVerbose(line);
        if (outcome.RolledBack)
            WriteFailure(new KvmHostException(ErrorIds.BridgeRolledBack, FailureKind.InvalidOperation,
                $"Removing {name} was rolled back: {outcome.RollbackReason}", name, "The bridge is as it was. Check the result's Probes and LiveChanges."));
        WriteObject(BridgeReport.ForRemoval(locked, HostSystem, outcome, whatIf: false));
    }

    private RemovalPlan Prepare(string name, BridgeBackend? backend) =>
        BridgeRemover.Prepare(name, HostSystem, backend, ReleaseIfKnown, Environment.GetEnvironmentVariable("SSH_CONNECTION"));
}
