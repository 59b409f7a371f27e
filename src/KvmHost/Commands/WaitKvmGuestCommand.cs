using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>Waits until guests are running, shut off, or have an IP address that libvirt knows; changes nothing.</summary>
[Cmdlet(VerbsLifecycle.Wait, "KvmGuest", DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class WaitKvmGuestCommand : GuestTargetCmdlet
{
    private const string Activity = "Wait-KvmGuest";

    [Parameter]
    public GuestWaitCondition For { get; set; } = GuestWaitCondition.Running;

    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 120;

    protected override void ProcessCore()
    {
        foreach (var guest in ResolveTargets())
            if (FirstTime(guest)) Targets.Add(guest);
    }

    protected override void EndCore()
    {
        if (Targets.Count == 0) return;
        var outcomes = GuestWaiter.Wait(Targets, For, TimeSpan.FromSeconds(TimeoutSec), $"{Activity} -For {For}", ShowProgress, Cancellation);
        EndProgress($"{Activity} -For {For}");
        foreach (var outcome in outcomes.Where(o => !o.Reached))
            WriteFailure(outcome.Failure ?? new KvmHostException(ErrorIds.GuestWaitTimedOut, FailureKind.OperationTimeout,
                $"Guest '{outcome.Guest.Name}' did not reach {For} within {TimeoutSec} s; it is {outcome.LastState}.", outcome.Guest.Name,
                For == GuestWaitCondition.IPAddress
                    ? "libvirt knows addresses from its networks' DHCP leases or from a connected guest agent; a guest on a host bridge without an agent reports none."
                    : "Raise -TimeoutSec, or look at the guest's console."));
        EmitPassThru(outcomes.Where(o => o.Reached).Select(o => o.Guest).ToList(), new HashSet<GuestEntry>());
    }
}
