using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>
/// The base of the cmdlets that act on guests (Start-, Stop-, Restart-, Suspend-, Resume-, Wait-, Set-,
/// Remove-, Checkpoint-KvmGuest): the guests of <see cref="GuestSelectionCmdlet"/>, -PassThru, and the plan,
/// approve and apply loop they share.
/// </summary>
public abstract class GuestTargetCmdlet : GuestSelectionCmdlet
{
    /// <summary>Emit each guest (as it is afterwards) with a Changed property; without it the cmdlet is silent, like Hyper-V's.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Every guest this pipeline named so far, once each, in the order they came.</summary>
    private protected List<GuestEntry> Targets { get; } = [];

    /// <summary>The targets this run changed (their -PassThru objects say Changed = $true).</summary>
    private protected HashSet<GuestEntry> ChangedTargets { get; } = [];

    /// <summary>
    /// The common shape of a lifecycle cmdlet's record: resolve this record's guests, and for each one not seen
    /// before, plan from its state; a guest already there is named in -Verbose, any other is approved with
    /// ShouldProcess (per guest, after resolving: the prompt names the guest) and then changed.
    /// </summary>
    /// <param name="plan">The step for one guest (it reads the guest's state); may throw GuestStateInvalid.</param>
    /// <param name="action">The ShouldProcess action text for a step, when it differs from the step's description.</param>
    /// <param name="applied">What else to do once a step was carried out (remember a guest to wait for).</param>
    private protected void PlanAndApply(Func<GuestEntry, GuestStep> plan, Func<GuestStep, string>? action = null,
        Action<GuestEntry, GuestStep>? applied = null) => ForEachGuest(ResolveTargets(), guest =>
    {
        if (!FirstTime(guest)) return;
        var step = plan(guest);
        Targets.Add(guest); // only guests that were not refused come back with -PassThru
        if (!step.Changes)
        {
            WriteVerbose(step.Description + " Nothing to do.");
            return;
        }
        if (!ShouldProcess(Describe(guest), action?.Invoke(step) ?? step.Description)) return;
        GuestLifecycle.Apply(guest, step.Action);
        ChangedTargets.Add(guest);
        applied?.Invoke(guest, step);
    });

    private readonly HashSet<(Guid, string)> _seen = [];

    /// <summary>True the first time a guest comes up in this pipeline (by UUID and URI: a catalog listed again makes new entries).</summary>
    private protected bool FirstTime(GuestEntry guest) => _seen.Add((guest.Uuid, guest.Connection.Uri));

    /// <summary>By default a lifecycle cmdlet ends with its -PassThru objects.</summary>
    protected override void EndCore() => EmitPassThru(Targets, ChangedTargets);

    /// <summary>"web1 on qemu:///system": what ShouldProcess and the messages name.</summary>
    protected static string Describe(GuestEntry guest) => $"{guest.Name} on {guest.Connection.Uri}";

    /// <summary>Writes the guests as they are now, each with Changed (true when this run changed it) and what <paramref name="extra"/> adds.</summary>
    protected void EmitPassThru(IReadOnlyCollection<GuestEntry> guests, IReadOnlySet<GuestEntry> changed,
        Func<GuestEntry, IEnumerable<PSNoteProperty>>? extra = null)
    {
        if (!PassThru || guests.Count == 0) return;
        var byUuid = guests.ToDictionary(g => (g.Uuid, g.Connection.Uri));
        foreach (var guest in Read(guests))
        {
            var entry = byUuid[(guest.Uuid, guest.Uri)];
            var output = PSObject.AsPSObject(guest);
            output.Properties.Add(new PSNoteProperty("Changed", changed.Contains(entry)));
            foreach (var property in extra?.Invoke(entry) ?? []) output.Properties.Add(property);
            WriteObject(output);
        }
    }

    /// <summary>Runs one guest's part; a failure there is written for that guest and the others go on.</summary>
    protected void ForEachGuest(IEnumerable<GuestEntry> guests, Action<GuestEntry> act)
    {
        foreach (var guest in guests)
        {
            try
            {
                act(guest);
            }
            // A daemon that is gone, or a connection that may not change anything, fails every guest alike: those stop the pipeline.
            catch (KvmHostException failure) when (failure.ErrorId is not (ErrorIds.LibvirtNotReachable or ErrorIds.LibvirtNotInstalled or ErrorIds.LibvirtAccessDenied))
            {
                WriteFailure(failure);
            }
        }
    }
}
