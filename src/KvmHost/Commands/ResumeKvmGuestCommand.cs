using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Resumes paused guests (and wakes guests that suspended themselves).</summary>
[Cmdlet(VerbsLifecycle.Resume, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class ResumeKvmGuestCommand : GuestTargetCmdlet
{
    protected override void ProcessCore() => PlanAndApply(guest => GuestPlanner.Resume(guest.Name, GuestLifecycle.StateOf(guest).State));
}
