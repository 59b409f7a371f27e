using System.Management.Automation;
using KvmHost.Core.Sysctl;

namespace KvmHost.Commands;

/// <summary>Reports IP forwarding in the running kernel and at boot (which file wins), changing nothing.</summary>
[Cmdlet(VerbsCommon.Get, "IpForwarding")]
[OutputType(typeof(IpForwardingState))]
public sealed class GetIpForwardingCommand : KvmHostCmdlet
{
    [Parameter(Position = 0)]
    public ForwardingFamilySelection AddressFamily { get; set; } = ForwardingFamilySelection.Both;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = ForwardingPlanner.DefaultDropIn;

    protected override void ProcessCore()
    {
        var planner = new ForwardingPlanner(HostSystem);
        foreach (var state in planner.Inspect(ForwardingPlanner.Expand(AddressFamily), Path))
        {
            foreach (string warning in state.Warnings) WriteWarning(warning);
            WriteObject(state);
        }
    }
}
