using System.Management.Automation;
using KvmHost.Core.Platform;
using KvmHost.Core.Services;

namespace KvmHost.Commands;

/// <summary>Enables and starts the libvirt daemons (monolithic or modular) and proves that they answer.</summary>
[Cmdlet(VerbsLifecycle.Enable, "Libvirtd", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(LibvirtdState))]
public sealed class EnableLibvirtdCommand : KvmHostCmdlet
{
    private readonly List<PSObject> _packages = [];

    /// <summary>Package results of Install-KvmPackages; read by property (Name, Status) so deserialized objects work too.</summary>
    [Parameter(ValueFromPipeline = true)]
    public PSObject[]? Package { get; set; }

    [Parameter]
    public LibvirtDaemonMode Mode { get; set; } = LibvirtDaemonMode.Auto;

    /// <summary>How long the daemon may take to answer after starting (its first capability probe takes seconds).</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 60;

    protected override void ProcessCore()
    {
        if (Package is not null) _packages.AddRange(Package.Where(p => p is not null));
    }

    protected override void EndCore()
    {
        if (MyInvocation.ExpectingInput || _packages.Count > 0)
            LibvirtPackages.EnsureInstalled(_packages.Select(p => (PropertyText(p, "Name"), PropertyText(p, "Status"))).ToList());
        Privileges.RequireRootFor(HostRoot, "Enabling and starting the libvirt daemons");

        var daemons = new LibvirtDaemons(HostRoot, Runner, () => Release.LibvirtLayout, Cancellation);
        daemons.EnsureSystemdRunning();
        // -WhatIf leaves no trace, not even the lock file.
        using var hostLock = WhatIfRequested ? null : LockHost();
        LibvirtPlan plan = daemons.Plan(Mode);

        var done = new List<string>();
        var skipped = new List<string>();
        bool warned = false;
        foreach (LibvirtStep step in plan.Steps)
        {
            if (!ShouldProcess(step.CommandLine, step.Description))
            {
                skipped.Add(step.CommandLine);
                continue;
            }
            if (plan.Retiring.Count > 0 && !warned)
            {
                string how = HostRoot.IsLive ? "stopping and disabling" : "disabling (in the image)";
                WriteWarning($"Switching to the {plan.Layout.ToString().ToLowerInvariant()} libvirt daemons: {how} "
                    + $"{string.Join(", ", plan.Retiring)} first. Running guests keep running.");
                warned = true;
            }
            daemons.Apply(step);
            done.Add(step.CommandLine);
        }

        bool whatIf = skipped.Count > 0;
        LibvirtdState state = daemons.Report(plan, changed: done.Count > 0, whatIf ? skipped : done, whatIf,
            TimeSpan.FromSeconds(TimeoutSec), waitForSocket: true);
        if (HostRoot.IsLive && !whatIf && !state.Reachable) throw daemons.NotReachable(state);
        WriteObject(state);
    }

    private static string PropertyText(PSObject package, string name) =>
        package.Properties[name]?.Value?.ToString() ?? string.Empty;
}
