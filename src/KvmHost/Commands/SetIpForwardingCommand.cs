using System.Management.Automation;
using KvmHost.Core.Platform;
using KvmHost.Core.Sysctl;

namespace KvmHost.Commands;

/// <summary>Turns IP forwarding on (or off), persistently and in the running kernel, and says which file wins at boot.</summary>
[Cmdlet(VerbsCommon.Set, "IpForwarding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(IpForwardingState))]
public sealed class SetIpForwardingCommand : KvmHostCmdlet
{
    [Parameter(Position = 0)]
    public ForwardingFamilySelection AddressFamily { get; set; } = ForwardingFamilySelection.IPv4;

    /// <summary>On by default; -Enabled:$false turns forwarding off.</summary>
    [Parameter]
    public SwitchParameter Enabled { get; set; } = new(true);

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = ForwardingPlanner.DefaultDropIn;

    [Parameter]
    public SwitchParameter ResolveConflict { get; set; }

    [Parameter]
    public SwitchParameter DisableBridgeNetfilter { get; set; }

    /// <summary>The uplink whose accept_ra is checked for IPv6; a bridge from New-HostBridge binds by its Name.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completion.BridgeNameCompleter))]
    public string? Uplink { get; set; }

    protected override void ProcessCore()
    {
        Privileges.RequireRootFor(HostRoot, "Set-IpForwarding");
        var kernel = new KernelParameters(HostRoot);
        var planner = new ForwardingPlanner(HostRoot, kernel);
        var request = new ForwardingRequest
        {
            Families = ForwardingPlanner.Expand(AddressFamily),
            Enabled = Enabled.IsPresent,
            ConfigurationFile = Path,
            ResolveConflict = ResolveConflict.IsPresent,
            DisableBridgeNetfilter = DisableBridgeNetfilter.IsPresent,
            Uplink = Uplink,
        };

        ForwardingPlan plan = planner.Plan(request);
        if (plan.IsEmpty)
        {
            Emit(plan.After);
            return;
        }

        var approvedFiles = plan.Files.Where(f => ShouldProcess(HostRoot.Describe(f.Path), f.Describe())).Select(f => f.Path).ToHashSet();
        var approvedKeys = plan.RuntimeWrites.Where(r => ShouldProcess(SysctlKey.ProcPath(r.Key), r.Describe())).Select(r => r.Key).ToHashSet();
        if (approvedFiles.Count == 0 && approvedKeys.Count == 0)
        {
            // -WhatIf: the state as it would be, flagged, with nothing changed.
            Emit(plan.After.Select(s => s with { Changed = false, WhatIf = true }).ToList());
            return;
        }

        using (LockHost())
        {
            // Planned again under the lock: another run may have changed the files since the prompt.
            plan = planner.Plan(request);
            var approvedPlanFiles = plan.Files.Where(f => approvedFiles.Contains(f.Path)).ToList();
            var approvedPlanWrites = plan.RuntimeWrites.Where(r => approvedKeys.Contains(r.Key)).ToList();
            var changes = planner.Apply(plan, Writer, approvedPlanFiles.Contains, approvedPlanWrites.Contains);
            foreach (var change in changes) WriteVerbose($"Wrote {change}");

            var touched = approvedPlanFiles.SelectMany(f => f.Edits.Select(e => e.Key)).Concat(approvedPlanWrites.Select(r => r.Key)).ToHashSet();
            bool bridgeTouched = ForwardingPlanner.BridgeNetfilterKeys.Any(touched.Contains);
            var truth = planner.Inspect(request.Families, Path);
            Emit(truth.Select(now =>
            {
                var planned = plan.After.First(a => a.AddressFamily == now.AddressFamily);
                return now with
                {
                    Changed = touched.Contains(ForwardingPlanner.KeyOf(now.AddressFamily)) || bridgeTouched,
                    PlannedChanges = ForwardingPlanner.ChangesFor(now.AddressFamily, approvedPlanFiles, approvedPlanWrites),
                    FileChanges = changes.Where(c => c.Changed).Select(c => c.ToString()).ToArray(),
                    Warnings = planned.Warnings,
                    Notes = planned.Notes,
                };
            }).ToList());
        }
    }

    private void Emit(IReadOnlyList<IpForwardingState> states)
    {
        foreach (string warning in states.SelectMany(s => s.Warnings).Distinct()) WriteWarning(warning);
        foreach (string note in states.SelectMany(s => s.Notes).Distinct()) WriteVerbose(note);
        foreach (var state in states) WriteObject(state);
    }
}
