using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>Starts guests (restoring a managed save), resumes paused ones, and confirms each is running.</summary>
[Cmdlet(VerbsLifecycle.Start, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class StartKvmGuestCommand : GuestTargetCmdlet
{
    private const string Activity = "Start-KvmGuest";

    /// <summary>How long a started guest may take to report Running (QEMU runs its CPUs as soon as it is up).</summary>
    private static readonly TimeSpan RunningWithin = TimeSpan.FromSeconds(60);

    private readonly List<GuestEntry> _started = [];

    protected override void ProcessCore() => PlanAndApply(guest => GuestPlanner.Start(guest.Name, GuestLifecycle.StateOf(guest).State),
        applied: (guest, step) =>
        {
            if (step.Action == GuestAction.Start) _started.Add(guest);
        });

    protected override void EndCore()
    {
        if (_started.Count > 0)
        {
            var outcomes = GuestWaiter.Wait(_started, GuestWaitCondition.Running, RunningWithin, Activity, ShowProgress, Cancellation);
            EndProgress(Activity);
            foreach (var outcome in outcomes.Where(o => !o.Reached))
                WriteFailure(outcome.Failure ?? new KvmHostException(ErrorIds.GuestStartFailed, FailureKind.InvalidOperation,
                    $"Guest '{outcome.Guest.Name}' was started but is {outcome.LastState} after {RunningWithin.TotalSeconds:0} s.", outcome.Guest.Name,
                    "Read the guest's log (/var/log/libvirt/qemu/NAME.log on its host) and its serial console."));
        }
        base.EndCore();
    }
}
