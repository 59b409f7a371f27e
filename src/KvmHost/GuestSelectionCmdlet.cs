using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Guests;

namespace KvmHost;

/// <summary>
/// The base of every cmdlet that takes guests it must find (all guest cmdlets but Get- and New-KvmGuest and
/// Get-KvmGuestCheckpoint, whose names are optional or new). Guests come three ways, one parameter set each:
/// names or wildcard patterns (strings only: see <see cref="GuestNameTransformationAttribute"/>), KvmGuest
/// objects from the pipeline (found through the URI they were read from), or UUIDs by property name (any object
/// with Uuid and Uri, e.g. a deserialized guest from remoting). Nothing binds by a property called Name, so no
/// other object's Name becomes a guest.
/// </summary>
public abstract class GuestSelectionCmdlet : KvmGuestCmdlet
{
    /// <summary>Guest names or wildcard patterns; -VMName as Hyper-V's cmdlets call it.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = GuestParameterSets.ByName, ValueFromPipeline = true)]
    [GuestNameTransformation]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(GuestNameCompleter))]
    [Alias("VMName")]
    public string[] Name { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByGuest, ValueFromPipeline = true)]
    [ValidateNotNull]
    public KvmGuest[] Guest { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = GuestParameterSets.ByUuid, ValueFromPipelineByPropertyName = true)]
    public Guid[] Uuid { get; set; } = [];

    /// <summary>The guests this pipeline record names, once each; missing ones are reported (GuestNotFound) and skipped.</summary>
    protected List<GuestEntry> ResolveTargets() => ResolveGuests(Name, Guest, Uuid);
}
