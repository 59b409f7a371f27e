using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>Lists guests (libvirt domains), running or not, as objects: the bulk read behind every guest cmdlet.</summary>
[Cmdlet(VerbsCommon.Get, "KvmGuest", DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class GetKvmGuestCommand : KvmGuestCmdlet
{
    /// <summary>Names or wildcard patterns; all guests when omitted.</summary>
    [Parameter(Position = 0, ParameterSetName = GuestParameterSets.ByName, ValueFromPipeline = true)]
    [GuestNameTransformation]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(GuestNameCompleter))]
    [Alias("VMName")]
    public string[]? Name { get; set; }

    /// <summary>A guest object to read again (its current state), through the URI it came from.</summary>
    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByGuest, ValueFromPipeline = true)]
    [ValidateNotNull]
    public KvmGuest[] Guest { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByUuid, ValueFromPipelineByPropertyName = true)]
    public Guid[] Uuid { get; set; } = [];

    /// <summary>Only guests in these states.</summary>
    [Parameter]
    public GuestState[]? State { get; set; }

    protected override void ProcessCore()
    {
        HashSet<GuestState>? states = State is { Length: > 0 } ? [.. State] : null;
        foreach (var guest in Read(ResolveGuests(Name, Guest, Uuid), states is null ? null : states.Contains))
            WriteObject(guest);
    }
}
