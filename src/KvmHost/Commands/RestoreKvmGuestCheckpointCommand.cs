using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// Brings guests back to a checkpoint (Hyper-V's Restore-VMSnapshot): disks, and memory where the checkpoint has
/// it, so the guest ends in the state it was in then (running, paused or off). Whatever the guest did since is lost,
/// hence ConfirmImpact High. With -PassThru, each guest as it is afterwards.
/// </summary>
[Cmdlet(VerbsData.Restore, "KvmGuestCheckpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class RestoreKvmGuestCheckpointCommand : CheckpointTargetCmdlet
{
    /// <summary>The checkpoint to go back to (one per guest, exact name).</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = GuestParameterSets.ByName)]
    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByGuest)]
    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByUuid)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CheckpointNameCompleter))]
    [Alias("SnapshotName")]
    public string CheckpointName { get; set; } = string.Empty;

    private readonly Dictionary<(Guid, string), string> _restoredTo = [];

    private protected override void Prepare()
    {
        base.Prepare();
        if (ParameterSetName != ByCheckpoint) Core.Guests.CheckpointName.Validate(CheckpointName);
    }

    protected override void ProcessCore()
    {
        var targets = ResolveCheckpoints([CheckpointName], (_, failure) => WriteFailure(failure));
        ForEachGuest(targets.Select(t => t.Guest).Distinct(), guest =>
        {
            foreach (var target in targets.Where(t => t.Guest == guest)) Restore(target);
        });
    }

    private void Restore(CheckpointTarget target)
    {
        var guest = target.Guest;
        var key = (guest.Uuid, guest.Connection.Uri);
        if (_restoredTo.TryGetValue(key, out string? earlier))
        {
            if (earlier != target.Checkpoint.Name)
                WriteFailure(new KvmHostException(ErrorIds.GuestParametersConflict, FailureKind.InvalidArgument,
                    $"Guest '{guest.Name}' was already restored to checkpoint '{earlier}' in this pipeline; it is not restored to '{target.Checkpoint.Name}' too.",
                    target.Checkpoint.Name, "Pipe or name one checkpoint per guest (Where-Object Name -eq ... picks one)."));
            return;
        }
        _restoredTo[key] = target.Checkpoint.Name;
        string action = GuestCheckpoints.PlanRestore(guest, target.Checkpoint);
        Targets.Add(guest);
        if (!ShouldProcess(Describe(guest), action)) return;
        GuestState expected = GuestCheckpoints.StateAfterRestore(target.Checkpoint);
        GuestState state = GuestCheckpoints.Restore(guest, target.Checkpoint);
        ChangedTargets.Add(guest);
        if (state != expected)
            WriteWarning($"'{guest.Name}' was restored to checkpoint '{target.Checkpoint.Name}' (taken while {target.Checkpoint.State}) but is {state}, not {expected}.");
        else
            WriteVerbose($"'{guest.Name}' is back at checkpoint '{target.Checkpoint.Name}' and {state}.");
    }
}
