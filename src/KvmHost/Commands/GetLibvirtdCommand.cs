using System.Management.Automation;
using KvmHost.Core.Services;

namespace KvmHost.Commands;

/// <summary>Reports the libvirt daemons' units and whether the daemon answers, changing nothing.</summary>
[Cmdlet(VerbsCommon.Get, "Libvirtd")]
[OutputType(typeof(LibvirtdState))]
public sealed class GetLibvirtdCommand : KvmHostCmdlet
{
    [Parameter]
    public LibvirtDaemonMode Mode { get; set; } = LibvirtDaemonMode.Auto;

    /// <summary>How long an activated daemon may take to answer.</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 30;

    protected override void EndCore()
    {
        var daemons = new LibvirtDaemons(HostSystem, () => Release.LibvirtLayout);
        daemons.EnsureSystemdRunning();
        LibvirtPlan plan = daemons.Plan(Mode);
        WriteObject(daemons.Read(plan, TimeSpan.FromSeconds(TimeoutSec)));
    }
}
