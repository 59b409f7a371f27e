using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Resumes paused guests (and wakes guests that suspended themselves).</summary>
[Cmdlet(VerbsLifecycle.Resume, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class ResumeKvmGuestCommand : GuestTargetCmdlet
{
    private readonly List<GuestEntry> _guests = [];
    private readonly HashSet<GuestEntry> _changed = [];

    protected override void ProcessCore() => ForEachGuest(ResolveTargets(), guest =>
    {
        if (_guests.Contains(guest)) return;
        var step = GuestPlanner.Resume(guest.Name, GuestLifecycle.StateOf(guest).State);
        _guests.Add(guest);
        if (!step.Changes)
        {
            WriteVerbose(step.Description + " Nothing to do.");
            return;
        }
        if (!ShouldProcess(Describe(guest), step.Description)) return;
        GuestLifecycle.Apply(guest, step.Action);
        _changed.Add(guest);
    });

    protected override void EndCore() => EmitPassThru(_guests, _changed);
}
