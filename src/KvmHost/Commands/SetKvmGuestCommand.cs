using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Changes a guest's settings; for now whether it starts with the host (-Autostart).</summary>
[Cmdlet(VerbsCommon.Set, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class SetKvmGuestCommand : GuestTargetCmdlet
{
    private readonly List<GuestEntry> _guests = [];
    private readonly HashSet<GuestEntry> _changed = [];

    /// <summary>-Autostart turns starting with the host on, -Autostart:$false off; leave it out to keep it as it is.</summary>
    [Parameter]
    public SwitchParameter Autostart { get; set; }

    protected override void ProcessCore() => ForEachGuest(ResolveTargets(), guest =>
    {
        if (_guests.Contains(guest)) return;
        _guests.Add(guest);
        if (!MyInvocation.BoundParameters.ContainsKey(nameof(Autostart)))
        {
            WriteVerbose($"No setting was given for '{guest.Name}'; nothing to do.");
            return;
        }
        var step = GuestPlanner.Autostart(guest.Name, GuestLifecycle.AutostartOf(guest), Autostart.IsPresent);
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
