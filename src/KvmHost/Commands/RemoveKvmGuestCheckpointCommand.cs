using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>
/// Removes checkpoints (Hyper-V's Remove-VMSnapshot): by default only the named ones, whose children then hang from
/// their parent; with -IncludeChildren each one's whole subtree. A checkpoint already gone (removed with its parent
/// earlier in the same pipeline) is nothing to do. The guests themselves do not change. -PassThru writes each
/// checkpoint it was given as it was before (under -WhatIf: as it is).
/// </summary>
[Cmdlet(VerbsCommon.Remove, "KvmGuestCheckpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuestCheckpoint))]
public sealed class RemoveKvmGuestCheckpointCommand : CheckpointTargetCmdlet
{
    private readonly HashSet<(Guid, string, string)> _removed = [];
    private readonly List<KvmGuestCheckpoint> _passed = [];

    /// <summary>Checkpoint names or wildcard patterns.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = GuestParameterSets.ByName)]
    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByGuest)]
    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByUuid)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CheckpointNameCompleter))]
    [Alias("SnapshotName")]
    public string[] CheckpointName { get; set; } = [];

    /// <summary>Remove each checkpoint's descendants too (libvirt's CHILDREN flag).</summary>
    [Parameter]
    public SwitchParameter IncludeChildren { get; set; }

    protected override void ProcessCore()
    {
        var targets = ResolveCheckpoints(CheckpointName, (checkpoint, _) => WriteVerbose(
            _removed.Contains((checkpoint.GuestUuid, checkpoint.Uri, checkpoint.Name))
                ? $"Checkpoint '{checkpoint.Name}' of '{checkpoint.GuestName}' was removed with its parent. Nothing to do."
                : $"Checkpoint '{checkpoint.Name}' of '{checkpoint.GuestName}' is not there (any more). Nothing to do."));
        ForEachGuest(targets.Select(t => t.Guest).Distinct(), guest =>
        {
            foreach (var target in targets.Where(t => t.Guest == guest)) Remove(target);
        });
    }

    private void Remove(CheckpointTarget target)
    {
        var (guest, checkpoint) = (target.Guest, target.Checkpoint);
        var key = (guest.Uuid, guest.Connection.Uri, checkpoint.Name);
        if (_removed.Contains(key))
        {
            WriteVerbose($"Checkpoint '{checkpoint.Name}' of '{guest.Name}' was removed with its parent. Nothing to do.");
            return;
        }
        var descendants = Descendants(target.Tree, checkpoint.Name);
        string action = IncludeChildren
            ? descendants.Count == 0
                ? $"Remove checkpoint '{checkpoint.Name}' of '{guest.Name}' (it has no children)"
                : $"Remove checkpoint '{checkpoint.Name}' of '{guest.Name}' and its {descendants.Count} descendant(s): {string.Join(", ", descendants)}"
            : checkpoint.Children.Length == 0
                ? $"Remove checkpoint '{checkpoint.Name}' of '{guest.Name}'"
                : $"Remove checkpoint '{checkpoint.Name}' of '{guest.Name}'; its children {string.Join(", ", checkpoint.Children)} then hang from "
                  + (checkpoint.Parent is null ? "nothing (they become roots)" : $"'{checkpoint.Parent}'");
        _passed.Add(checkpoint);
        if (!ShouldProcess(Describe(guest), action)) return;
        GuestCheckpoints.Remove(guest, checkpoint.Name, IncludeChildren);
        _removed.Add(key);
        if (IncludeChildren)
            foreach (string name in descendants) _removed.Add((guest.Uuid, guest.Connection.Uri, name));
    }

    private static List<string> Descendants(IReadOnlyList<KvmGuestCheckpoint> tree, string name)
    {
        var byName = tree.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var found = new List<string>();
        var pending = new Queue<string>(byName.TryGetValue(name, out var start) ? start.Children : []);
        while (pending.TryDequeue(out string? child))
        {
            found.Add(child);
            if (byName.TryGetValue(child, out var node)) foreach (string grandchild in node.Children) pending.Enqueue(grandchild);
        }
        return found;
    }

    protected override void EndCore()
    {
        if (PassThru) WriteObject(_passed, enumerateCollection: true);
    }
}
