using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Reboots guests: the ACPI power button and a new start by libvirt (graceful), or -Force for a hardware reset.</summary>
[Cmdlet(VerbsLifecycle.Restart, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class RestartKvmGuestCommand : GuestTargetCmdlet
{
    /// <summary>Reset at once (the reset button) instead of asking the guest to reboot.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessCore() => PlanAndApply(
        guest => GuestPlanner.Restart(guest.Name, GuestLifecycle.StateOf(guest).State, Force ? GuestRestartMode.Reset : GuestRestartMode.Graceful),
        applied: (guest, step) =>
        {
            if (step.Action == GuestAction.Reboot)
                WriteVerbose($"'{guest.Name}' was asked to reboot; a guest that ignores ACPI keeps running as it is (Restart-KvmGuest -Force resets it).");
        });
}
