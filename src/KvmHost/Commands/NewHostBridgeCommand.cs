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
[OutputType(typeof(HostBridge))]
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
        Privileges.RequireRootFor(HostRoot, $"Bridging {request.Interface} into {request.Name}");
        var backend = bound.ContainsKey(nameof(Backend)) ? Backend : Release.BridgeBackend;

        using var hostLock = LockHost();
        LiveNetworkState? live = HostRoot.IsLive ? new LiveNetworkReader(Runner).Read(Cancellation) : null;
        var config = BridgeConfigs.For(backend, HostRoot, UsesNewNetworkManagerNames(backend));
        var plan = BridgePlanner.Plan(request, HostRoot, config, live, Environment.GetEnvironmentVariable("SSH_CONNECTION"));
        var timeout = TimeSpan.FromSeconds(RollbackTimeout);
        var liveChanges = BridgeReport.DescribeLive(plan, timeout);

        if (!plan.Changes)
        {
            WriteVerbose($"{request.Name} already bridges {request.Interface} as asked; nothing to do.");
            WriteObject(BridgeReport.FromPlan(plan, HostRoot, new BridgeOutcome([], [], [], false, null, live), whatIf: false, []));
            return;
        }

        bool approved = true;
        foreach (var file in plan.Files.Where(f => f.Changes))
        {
            string action = file.File.Content is null ? "Remove (keeping a backup)" : file.Current is null ? $"Create ({file.File.Purpose})" : $"Replace ({file.File.Purpose}, keeping a backup)";
            approved &= ShouldProcess(HostRoot.Describe(file.File.Path), action);
        }
        if (plan.Live is { Needed: true })
            approved &= ShouldProcess($"running network: {request.Interface} -> {request.Name}",
                $"Apply under a {RollbackTimeout} s rollback guard: {string.Join("; ", liveChanges)}");
        if (approved && plan.Risks.Count > 0 && !Force) approved = ConfirmRisk(plan, request);
        if (!approved)
        {
            WriteObject(BridgeReport.FromPlan(plan, HostRoot, null, whatIf: true, liveChanges));
            return;
        }

        var outcome = new BridgeApplier(Runner, Writer, new IcmpReachability(), Cancellation).Apply(plan, timeout);
        foreach (string line in outcome.LiveLog) WriteVerbose(line);
        var result = BridgeReport.FromPlan(plan, HostRoot, outcome, whatIf: false, liveChanges);
        if (outcome.RolledBack)
            WriteFailure(new KvmHostException(ErrorIds.BridgeRolledBack, FailureKind.InvalidOperation,
                $"Bridging {request.Interface} into {request.Name} was rolled back: {outcome.RollbackReason}", request.Name,
                "The host is as it was. Check the addresses and gateway (the result's Probes and LiveChanges say what happened), then run again."));
        WriteObject(result);
    }

    private bool ConfirmRisk(BridgePlan plan, BridgeRequest request)
    {
        string query = $"{string.Join(" ", plan.Risks)} The change is guarded: if the probes ({string.Join(", ", plan.Live!.ProbeTargets)}) stop answering for {RollbackTimeout} s everything is put back. Bridge {request.Interface} into {request.Name} now?";
        try
        {
            return ShouldContinue(query, "Moving the management NIC into a bridge");
        }
        catch (Exception e) when (e is PSInvalidOperationException or System.Management.Automation.Host.HostException or NotImplementedException)
        {
            throw new KvmHostException(ErrorIds.BridgeConfirmationRequired, FailureKind.InvalidOperation,
                $"{string.Join(" ", plan.Risks)} This needs a confirmation, and this session cannot prompt. Nothing was changed.", request.Interface,
                "Add -Force to go ahead without the prompt (the rollback guard still applies).", e);
        }
    }

    private bool UsesNewNetworkManagerNames(BridgeBackend backend)
    {
        if (backend != BridgeBackend.NetworkManager) return false;
        if (HostRoot.IsLive)
        {
            var client = new NetworkManagerClient(Runner, Cancellation);
            if (!client.IsRunning())
                throw new KvmHostException(ErrorIds.BridgeApplyFailed, FailureKind.ResourceUnavailable,
                    "NetworkManager is not running, so it cannot apply the bridge. Nothing was changed.", "NetworkManager",
                    "Start NetworkManager (systemctl start NetworkManager), or use -Backend NetworkScripts on a host without it.");
            if (client.UsesNewNames() is { } fromVersion) return fromVersion;
        }
        try { return BridgeConfigs.ReleaseUsesNewNetworkManagerNames(Release); }
        catch (KvmHostException) { return false; } // no os-release under -Root: the old names work everywhere
    }
}
