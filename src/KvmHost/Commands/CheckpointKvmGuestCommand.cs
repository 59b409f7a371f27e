using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>
/// Takes a checkpoint of guests (Hyper-V's Checkpoint-VM): an internal libvirt snapshot of the disks and, for a
/// running or paused guest, its memory. Refusals (a disk that is not qcow2, a running UEFI guest, a name in use)
/// come before anything changes. Writes the new checkpoints only with -PassThru.
/// </summary>
[Cmdlet(VerbsData.Checkpoint, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuestCheckpoint))]
public sealed class CheckpointKvmGuestCommand : GuestTargetCmdlet
{
    private readonly List<KvmGuestCheckpoint> _taken = [];

    /// <summary>The checkpoint's name; default: the guest's name and the UTC time (web01-20261203T101500Z).</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    [Alias("SnapshotName")]
    public string? CheckpointName { get; set; }

    [Parameter]
    public string? Description { get; set; }

    private protected override void Prepare()
    {
        base.Prepare();
        if (CheckpointName is not null) Core.Guests.CheckpointName.Validate(CheckpointName);
    }

    protected override void ProcessCore() => ForEachGuest(ResolveTargets(), guest =>
    {
        if (!FirstTime(guest)) return;
        var request = GuestCheckpoints.PlanCreate(guest, CheckpointName, Description, DateTime.UtcNow);
        foreach (string warning in request.Warnings) WriteWarning(warning);
        if (!ShouldProcess(Describe(guest), request.Action)) return;
        _taken.Add(GuestCheckpoints.Create(guest, request));
    });

    protected override void EndCore()
    {
        if (PassThru) WriteObject(_taken, enumerateCollection: true);
    }
}
