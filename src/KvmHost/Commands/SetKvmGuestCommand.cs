using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Changes a guest's settings; for now whether it starts with the host (-Autostart).</summary>
[Cmdlet(VerbsCommon.Set, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class SetKvmGuestCommand : GuestTargetCmdlet
{
    /// <summary>-Autostart turns starting with the host on, -Autostart:$false off; leave it out to keep it as it is.</summary>
    [Parameter]
    public SwitchParameter Autostart { get; set; }

    protected override void ProcessCore() => PlanAndApply(guest =>
        MyInvocation.BoundParameters.ContainsKey(nameof(Autostart))
            ? GuestPlanner.Autostart(guest.Name, GuestLifecycle.AutostartOf(guest), Autostart.IsPresent)
            : new GuestStep(GuestAction.None, $"No setting was given for '{guest.Name}'."));
}
