using System.Management.Automation;
using KvmHost.Core.Platform;
using KvmHost.Core.Services;

namespace KvmHost.Commands;

/// <summary>Enables and starts the libvirt daemons (monolithic or modular) and proves that they answer.</summary>
[Cmdlet(VerbsLifecycle.Enable, "Libvirtd", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(LibvirtdResult))]
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
        bool preview = WhatIfRequested;
        bool packagesPending = false;
        if (MyInvocation.ExpectingInput || _packages.Count > 0)
            packagesPending = LibvirtPackages.EnsureInstalled(
                _packages.Select(p => new PipedPackage(PropertyText(p, "Name"), PropertyText(p, "Status"), LanguagePrimitives.IsTrue(p.Properties["WhatIf"]?.Value))).ToList(),
                preview);
        // A preview only reads, so it needs no root wherever systemctl can be asked.
        if (!preview) Privileges.RequireRootFor(HostSystem, "Enabling and starting the libvirt daemons");

        var daemons = new LibvirtDaemons(HostSystem, () => Release.LibvirtLayout);
        daemons.EnsureSystemdRunning();
        // Planned (and so validated: the units exist, the layout is known) before the lock, so a refused call
        // leaves no lock file; -WhatIf leaves no trace at all.
        LibvirtPlan plan = daemons.Plan(Mode, packagesPending);
        // Nothing to do (a converged host): no lock, no second look; the result reads the units as they are.
        using var hostLock = preview || plan.Steps.Count == 0 ? null : LockHost();
        if (hostLock is not null) plan = daemons.Plan(Mode); // again under the lock: a parallel run may have done part of it

        var done = new List<string>();
        var skipped = new List<string>();
        foreach (LibvirtStep step in plan.Steps)
        {
            if (!ShouldProcess(step.CommandLine, step.Description))
            {
                skipped.Add(step.CommandLine);
                continue;
            }
            if (done.Count == 0 && daemons.RetiringWarning(plan) is { } warning) WriteWarning(warning);
            daemons.Apply(step);
            done.Add(step.CommandLine);
        }

        bool whatIf = preview || (done.Count == 0 && skipped.Count > 0);
        LibvirtdResult state = daemons.Report(plan, changed: done.Count > 0, whatIf ? skipped : done, whatIf,
            TimeSpan.FromSeconds(TimeoutSec), waitForSocket: done.Count > 0);
        daemons.EnsureReachable(state);
        WriteObject(state);
    }

    private static string PropertyText(PSObject package, string name) =>
        package.Properties[name]?.Value?.ToString() ?? string.Empty;
}
