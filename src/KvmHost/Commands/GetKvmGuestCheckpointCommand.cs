using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>
/// Lists guests' checkpoints (Hyper-V's Get-VMSnapshot) as a tree per guest: each root, then its descendants,
/// with parent, children, current, when taken, the guest's state then, and the saved memory's size.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KvmGuestCheckpoint", DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuestCheckpoint))]
public sealed class GetKvmGuestCheckpointCommand : KvmGuestCmdlet
{
    /// <summary>Guest names or wildcard patterns; every guest when omitted.</summary>
    [Parameter(Position = 0, ParameterSetName = GuestParameterSets.ByName, ValueFromPipeline = true)]
    [GuestNameTransformation]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(GuestNameCompleter))]
    [Alias("VMName")]
    public string[]? Name { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByGuest, ValueFromPipeline = true)]
    [ValidateNotNull]
    public KvmGuest[] Guest { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByUuid, ValueFromPipelineByPropertyName = true)]
    public Guid[] Uuid { get; set; } = [];

    /// <summary>Checkpoint names or wildcard patterns; all when omitted.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CheckpointNameCompleter))]
    [Alias("SnapshotName")]
    public string[]? CheckpointName { get; set; }

    protected override void ProcessCore()
    {
        var guests = ResolveGuests(Name, Guest, Uuid);
        var patterns = CheckpointTargets.Patterns(CheckpointName ?? []);
        var unmatched = new HashSet<string>((CheckpointName ?? []).Where(n => !WildcardPattern.ContainsWildcardCharacters(n)), StringComparer.Ordinal);
        guests = guests.OrderBy(g => g.Name, StringComparer.OrdinalIgnoreCase).ToList();
        foreach (var guest in guests)
        {
            foreach (var checkpoint in GuestCheckpoints.List(guest))
            {
                if (patterns.Count > 0 && !patterns.Any(p => p.Matches(checkpoint.Name))) continue;
                unmatched.Remove(checkpoint.Name);
                WriteObject(checkpoint);
            }
        }
        if (guests.Count > 0)
            foreach (string name in unmatched)
                WriteFailure(CheckpointTargets.NotFound(name, guests.Select(g => g.Name).ToList(), guests[0].Connection.Uri));
    }
}
