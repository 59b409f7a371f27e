using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// Shuts guests down: by default the ACPI power button and a wait until each is really off (a guest that ignores
/// the button ends with GuestShutdownTimedOut and keeps running); -Force powers off what is still running at the
/// deadline; -TurnOff powers off at once; -Save saves the memory to the host (Start-KvmGuest restores it).
/// All guests of a pipeline are asked first and waited for together.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class StopKvmGuestCommand : GuestTargetCmdlet
{
    private const string Activity = "Stop-KvmGuest";
    private readonly List<GuestEntry> _shuttingDown = [];

    /// <summary>Graceful first; power off whatever still runs when -TimeoutSec is over.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Power off at once, without asking the guest (virsh destroy).</summary>
    [Parameter]
    public SwitchParameter TurnOff { get; set; }

    /// <summary>Save the guest's memory to the host and stop it (managed save).</summary>
    [Parameter]
    public SwitchParameter Save { get; set; }

    /// <summary>How long to wait for a graceful shutdown.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 120;

    private GuestStopMode Mode => TurnOff ? GuestStopMode.TurnOff : Save ? GuestStopMode.Save : Force ? GuestStopMode.Force : GuestStopMode.Graceful;

    private protected override void Prepare()
    {
        base.Prepare();
        if (new[] { Force.IsPresent, TurnOff.IsPresent, Save.IsPresent }.Count(x => x) > 1)
            throw new KvmHostException(ErrorIds.GuestParametersConflict, FailureKind.InvalidArgument,
                "-Force, -TurnOff and -Save are different ways to stop a guest; give at most one.", "Stop-KvmGuest",
                "-Force: graceful, then power off at the timeout. -TurnOff: power off now. -Save: save memory and stop.");
    }

    protected override void ProcessCore() => PlanAndApply(guest => GuestPlanner.Stop(guest.Name, GuestLifecycle.StateOf(guest).State, Mode),
        action: step => step.Action == GuestAction.Shutdown ? $"{step.Description} (up to {TimeoutSec} s)" : step.Description,
        applied: (guest, step) =>
        {
            if (step.Action == GuestAction.Shutdown) _shuttingDown.Add(guest);
        });

    protected override void EndCore()
    {
        if (_shuttingDown.Count > 0)
        {
            var outcomes = GuestWaiter.Wait(_shuttingDown, GuestWaitCondition.ShutOff, TimeSpan.FromSeconds(TimeoutSec), Activity, ShowProgress, Cancellation);
            EndProgress(Activity);
            ForEachGuest(outcomes.Where(o => !o.Reached).Select(o => o.Guest), guest =>
            {
                var outcome = outcomes.First(o => o.Guest == guest);
                if (outcome.Failure is not null) throw outcome.Failure;
                var (state, reason) = GuestLifecycle.StateOf(guest);
                if (state == GuestState.ShutOff) return; // it made it just after the last look
                if (Mode != GuestStopMode.Force)
                    throw new KvmHostException(ErrorIds.GuestShutdownTimedOut, FailureKind.OperationTimeout,
                        $"Guest '{guest.Name}' did not shut down within {TimeoutSec} s of the ACPI power button and is still {state} ({reason}). "
                        + "A guest without ACPI handling (no acpid) or one still booting ignores the button.", guest.Name,
                        "Stop-KvmGuest -Force powers it off after the wait, -TurnOff at once; or raise -TimeoutSec.");
                WriteVerbose($"'{guest.Name}' did not shut down within {TimeoutSec} s; powering it off (-Force).");
                GuestLifecycle.Apply(guest, GuestAction.TurnOff);
            });
        }
        base.EndCore();
    }
}
