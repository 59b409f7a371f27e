using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// Moves a NIC into a new bridge, its addresses, routes, DNS and MAC with it, persistently (ifcfg or
/// NetworkManager keyfiles) and, on the running host, under a rollback guard that puts everything
/// back when the gateway (or -Probe) stops answering.
/// </summary>
[Cmdlet(VerbsCommon.New, "HostBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = FromInterfaceSet)]
[OutputType(typeof(HostBridgeResult))]
public sealed class NewHostBridgeCommand : KvmHostCmdlet
{
    private const string FromInterfaceSet = "FromInterface";
    private const string StaticSet = "Static";
    private const string DhcpSet = "Dhcp";

    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string Name { get; set; } = string.Empty;

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("InterfaceName", "Nic", "Device")]
    [ArgumentCompleter(typeof(InterfaceNameCompleter))]
    public string Interface { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = StaticSet)]
    public string[] IPAddress { get; set; } = [];

    [Parameter(ParameterSetName = StaticSet)]
    public string? Gateway { get; set; }

    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DhcpSet)]
    public string[] DnsServer { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = DhcpSet)]
    public SwitchParameter Dhcp { get; set; }

    [Parameter]
    public bool Stp { get; set; }

    [Parameter]
    [ValidateRange(0, 30)]
    public int ForwardDelay { get; set; }

    [Parameter]
    [ValidateRange(68, 65535)]
    public int Mtu { get; set; }

    [Parameter]
    public BridgeBackend Backend { get; set; }

    [Parameter]
    public string[] Probe { get; set; } = [];

    [Parameter]
    [ValidateRange(5, 3600)]
    public int RollbackTimeout { get; set; } = 60;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessCore()
    {
        var bound = MyInvocation.BoundParameters;
        var request = BridgeRequest.Create(Name, Interface, IPAddress, Gateway, DnsServer, Dhcp.IsPresent,
            bound.ContainsKey(nameof(Stp)) ? Stp : null, bound.ContainsKey(nameof(ForwardDelay)) ? ForwardDelay : null,
            bound.ContainsKey(nameof(Mtu)) ? Mtu : null, Probe);
        bool preview = WhatIfRequested;
        if (!preview) Privileges.RequireRootFor(HostSystem, $"Bridging {request.Interface} into {request.Name}");
        var backend = bound.ContainsKey(nameof(Backend)) ? Backend : Release.BridgeBackend;
        var timeout = TimeSpan.FromSeconds(RollbackTimeout);

        // Plan without the lock: a preview, and a call refused by the plan, leave no lock file behind.
        var plan = Prepare(request, backend);
        if (!preview && plan.Blockers.Count > 0) throw plan.Blockers[0];
        if (!plan.Changes)
        {
            WriteVerbose($"{request.Name} already bridges {request.Interface} as asked; nothing to do.");
            WriteObject(BridgeReport.ForNew(plan, HostSystem, null, whatIf: preview, timeout));
            return;
        }

        var steps = plan.Files.Where(f => f.Changes).Select(f => (HostRoot.Describe(f.File.Path), BridgeReport.DescribeFile(f))).ToList();
        if (plan.Live is { Needed: true })
            steps.Add(($"running network: {request.Interface} -> {request.Name}",
                $"Apply under a {RollbackTimeout} s rollback guard: {string.Join("; ", BridgeReport.DescribeLive(plan, timeout))}"));
        string question = $"The change is guarded: if the probes ({string.Join(", ", plan.Live?.ProbeTargets ?? [])}) stop answering for {RollbackTimeout} s everything is put back. Bridge {request.Interface} into {request.Name} now?";
        if (!ApproveOrFail(steps, plan.Risks, Force, question, "Moving the management NIC into a bridge", request.Interface, ErrorIds.BridgeConfirmationRequired))
        {
            WriteObject(BridgeReport.ForNew(plan, HostSystem, null, whatIf: true, timeout));
            return;
        }

        using var hostLock = LockHost();
        var locked = Prepare(request, backend);
        if (!locked.SameChangesAs(plan))
            throw BridgeConfigs.ChangedWhileWaiting(request.Name);
        var outcome = new BridgeApplier(HostSystem, Writer, new IcmpReachability()).Apply(locked, timeout);
        foreach (string line in outcome.LiveLog) WriteVerbose(line);
        var result = BridgeReport.ForNew(locked, HostSystem, outcome, whatIf: false, timeout);
        if (outcome.RolledBack)
            WriteFailure(new KvmHostException(ErrorIds.BridgeRolledBack, FailureKind.InvalidOperation,
                $"Bridging {request.Interface} into {request.Name} was rolled back: {outcome.RollbackReason}", request.Name,
                "The host is as it was. Check the addresses and gateway (the result's Probes and LiveChanges say what happened), then run again."));
        WriteObject(result);
    }

    private BridgePlan Prepare(BridgeRequest request, BridgeBackend backend) =>
        BridgePlanner.Prepare(request, HostSystem, backend, ReleaseIfKnown, Environment.GetEnvironmentVariable("SSH_CONNECTION"));
}
