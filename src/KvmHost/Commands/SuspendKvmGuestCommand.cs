using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Pauses guests' virtual CPUs; their memory stays in the host (Resume-KvmGuest continues them).</summary>
[Cmdlet(VerbsLifecycle.Suspend, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class SuspendKvmGuestCommand : GuestTargetCmdlet
{
    protected override void ProcessCore() => PlanAndApply(guest => GuestPlanner.Suspend(guest.Name, GuestLifecycle.StateOf(guest).State));
}
