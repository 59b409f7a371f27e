using System.Management.Automation;
using KvmHost.Core.Platform;
using KvmHost.Core.Sysctl;

namespace KvmHost.Commands;

/// <summary>Turns IP forwarding on (or off), persistently and in the running kernel, and says which file wins at boot.</summary>
[Cmdlet(VerbsCommon.Set, "IpForwarding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(IpForwardingResult))]
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
        bool preview = WhatIfRequested;
        // A preview only reads (/proc/sys and the sysctl files are readable by anyone), so it needs no root.
        if (!preview) Privileges.RequireRootFor(HostSystem, "Set-IpForwarding");
        var planner = new ForwardingPlanner(HostSystem);
        var request = new ForwardingRequest
        {
            Families = ForwardingPlanner.Expand(AddressFamily),
            Enabled = Enabled.IsPresent,
            ConfigurationFile = Path,
            ResolveConflict = ResolveConflict.IsPresent,
            DisableBridgeNetfilter = DisableBridgeNetfilter.IsPresent,
            Uplink = Uplink,
        };

        // Planning validates everything (paths, uplink, the kernel's keys) before the lock is taken.
        ForwardingPlan plan = planner.Plan(request);
        if (plan.IsEmpty)
        {
            Emit(planner.Preview(plan, whatIf: preview));
            return;
        }

        var approvedFiles = plan.Files.Where(f => ShouldProcess(HostRoot.Describe(f.Path), f.Describe())).Select(f => f.Path).ToHashSet();
        var approvedKeys = plan.RuntimeWrites.Where(r => ShouldProcess(SysctlKey.ProcPath(r.Key), r.Describe())).Select(r => r.Key).ToHashSet();
        if (approvedFiles.Count == 0 && approvedKeys.Count == 0)
        {
            Emit(planner.Preview(plan, whatIf: true));
            return;
        }

        using (LockHost())
        {
            // Planned again under the lock: another run may have changed the files since the prompt.
            plan = planner.Plan(request);
            var results = planner.Run(plan, Writer, f => approvedFiles.Contains(f.Path), r => approvedKeys.Contains(r.Key));
            foreach (string change in results.SelectMany(r => r.FileChanges).Distinct()) WriteVerbose($"Wrote {change}");
            Emit(results);
        }
    }

    private void Emit(IReadOnlyList<IpForwardingResult> results)
    {
        foreach (string warning in results.SelectMany(s => s.Warnings).Distinct()) WriteWarning(warning);
        foreach (string note in results.SelectMany(s => s.Notes).Distinct()) WriteVerbose(note);
        foreach (var result in results) WriteObject(result);
    }
}
