using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>One checkpoint a cmdlet acts on: its guest, the checkpoint as it is now, and the guest's whole tree.</summary>
internal sealed record CheckpointTarget(GuestEntry Guest, KvmGuestCheckpoint Checkpoint, IReadOnlyList<KvmGuestCheckpoint> Tree);

/// <summary>
/// The base of Restore- and Remove-KvmGuestCheckpoint: checkpoints come as objects from Get-KvmGuestCheckpoint
/// (found again through the URI and guest they were read from) or as guests (names, objects, UUIDs, as for every
/// guest cmdlet) plus -CheckpointName. Each is read fresh from libvirt, so what is decided is what is there now.
/// </summary>
public abstract class CheckpointTargetCmdlet : GuestTargetCmdlet
{
    internal const string ByCheckpoint = nameof(ByCheckpoint);

    /// <summary>Checkpoints from Get-KvmGuestCheckpoint.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ByCheckpoint, ValueFromPipeline = true)]
    [ValidateNotNull]
    public KvmGuestCheckpoint[] Checkpoint { get; set; } = [];

    /// <summary>
    /// This record's checkpoints. Names without wildcards that match nothing are CheckpointNotFound errors; a piped
    /// checkpoint that is gone is passed to <paramref name="gone"/> (Remove: nothing to do; Restore: an error).
    /// </summary>
    private protected List<CheckpointTarget> ResolveCheckpoints(IReadOnlyList<string> names, Action<KvmGuestCheckpoint, KvmHostException> gone)
    {
        var targets = new List<CheckpointTarget>();
        if (ParameterSetName == ByCheckpoint)
        {
            foreach (var wanted in Checkpoint)
            {
                if (FindByUuid(wanted.GuestUuid, wanted.Uri, wanted.GuestName) is not { } guest) continue;
                var tree = GuestCheckpoints.List(guest);
                if (tree.FirstOrDefault(c => c.Name == wanted.Name) is { } checkpoint) targets.Add(new(guest, checkpoint, tree));
                else gone(wanted, CheckpointTargets.NotFound(wanted.Name, [guest.Name], guest.Connection.Uri));
            }
            return targets;
        }
        var patterns = CheckpointTargets.Patterns(names);
        var guests = ResolveTargets();
        var unmatched = new HashSet<string>(names.Where(n => !WildcardPattern.ContainsWildcardCharacters(n)), StringComparer.Ordinal);
        ForEachGuest(guests, guest =>
        {
            var tree = GuestCheckpoints.List(guest);
            foreach (var checkpoint in tree.Where(c => patterns.Any(p => p.Matches(c.Name))))
            {
                unmatched.Remove(checkpoint.Name);
                targets.Add(new(guest, checkpoint, tree));
            }
        });
        if (guests.Count > 0)
            foreach (string name in unmatched)
                WriteFailure(CheckpointTargets.NotFound(name, guests.Select(g => g.Name).ToList(), guests[0].Connection.Uri));
        return targets;
    }
}

/// <summary>Checkpoint name patterns and the error for a name that matches nothing.</summary>
internal static class CheckpointTargets
{
    /// <summary>A literal name matches exactly (libvirt names are case-sensitive); a pattern ignores case, as PowerShell's do.</summary>
    internal sealed record NamePattern(string Text, WildcardPattern? Wildcard)
    {
        public bool Matches(string name) => Wildcard?.IsMatch(name) ?? name == Text;
    }

    public static List<NamePattern> Patterns(IEnumerable<string> names) => names.Select(name =>
    {
        if (!WildcardPattern.ContainsWildcardCharacters(name))
        {
            Core.Guests.CheckpointName.Validate(name);
            return new NamePattern(name, null);
        }
        var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
        try
        {
            _ = pattern.IsMatch(string.Empty); // parsed on first use: a broken pattern fails here, not halfway through
        }
        catch (WildcardPatternException e)
        {
            throw new KvmHostException(ErrorIds.CheckpointNameInvalid, FailureKind.InvalidArgument,
                $"'{name}' is not a usable wildcard pattern: {e.Message}", name, "Close each '[' with ']', or escape a literal bracket with a backtick (`[).", e);
        }
        return new NamePattern(name, pattern);
    }).ToList();

    public static KvmHostException NotFound(string name, IReadOnlyList<string> guests, string uri) =>
        new(ErrorIds.CheckpointNotFound, FailureKind.ObjectNotFound,
            guests.Count == 1 ? $"Guest '{guests[0]}' has no checkpoint named '{name}' on {uri}." : $"None of the guests {string.Join(", ", guests)} has a checkpoint named '{name}' on {uri}.",
            name, $"Get-KvmGuestCheckpoint{(guests.Count == 1 ? $" -Name '{guests[0]}'" : string.Empty)} -Uri '{uri}' lists the checkpoints; names are case-sensitive, wildcards ignore case.");
}
