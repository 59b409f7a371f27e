using KvmHost.Core.Tests.Architecture.Planted;
using Xunit;

namespace KvmHost.Core.Tests.Architecture;

/// <summary>
/// The rules run over this test assembly, where Planted/PlantedViolations.cs holds one violation of each kind and
/// stand-ins for the allowed places: each violation must be found, and nothing in the allowed places or the reader.
/// </summary>
public sealed class RuleSelfTests : IDisposable
{
    private const string Planted = "KvmHost.Core.Tests.Architecture.Planted.";

    private static readonly Allowances PlantedAllowances = new(
        new Dictionary<Capability, IReadOnlyDictionary<string, string>>
        {
            [Capability.StartsProcesses] = new Dictionary<string, string> { [Planted + nameof(PlantedRunner)] = "stands for the runner" },
            [Capability.WritesFiles] = new Dictionary<string, string> { [Planted + nameof(PlantedWriter)] = "stands for the writer" },
            [Capability.ListsFolders] = new Dictionary<string, string> { [Planted + nameof(PlantedFolderReader)] = "stands for HostRoot" },
        },
        LibcOwners: new Dictionary<string, string> { [Planted + nameof(PlantedNativeMethods)] = "stands for NativeMethods" },
        LibvirtOwnerPrefix: Planted + "PlantedLibvirt");

    private readonly AssemblyInspector _tests = new(typeof(RuleSelfTests).Assembly.Location);
    private readonly IReadOnlyList<Violation> _found;

    public RuleSelfTests() => _found = ArchitectureRules.Check(_tests, PlantedAllowances);

    public void Dispose() => _tests.Dispose();

    [Theory]
    [InlineData(nameof(Offender.StartsAProcess))]
    [InlineData(nameof(Offender.BuildsAStartInfo))]
    [InlineData(nameof(Offender.SignalsThroughANativeHelper))]
    public void A_process_started_outside_the_runner_is_found(string method) =>
        AssertFound(method, "starts processes");

    [Theory]
    [InlineData(nameof(Offender.WritesAllText))]
    [InlineData(nameof(Offender.MovesAFile))]
    [InlineData(nameof(Offender.CopiesAFile))]
    [InlineData(nameof(Offender.CreatesAFile))]
    [InlineData(nameof(Offender.OpensForWriting))]
    [InlineData(nameof(Offender.OpensReadWriteByDefault))]
    [InlineData(nameof(Offender.OpensWithAnAccessDecidedAtRunTime))]
    [InlineData(nameof(Offender.OpensWithOptions))]
    [InlineData(nameof(Offender.WritesThroughAStreamWriter))]
    [InlineData(nameof(Offender.CreatesADirectory))]
    [InlineData(nameof(Offender.ChangesAMode))]
    [InlineData(nameof(Offender.WritesInALambda))]
    [InlineData(nameof(Offender.DeletesThroughAMethodGroup))]
    [InlineData(nameof(Offender.LinksThroughANativeHelper))]
    public void A_file_written_outside_the_writer_is_found(string method) =>
        AssertFound(method, "writes files");

    [Theory]
    [InlineData(nameof(Offender.ListsAFolderItself))]
    [InlineData(nameof(Offender.EnumeratesAFolderItself))]
    public void A_folder_listed_outside_HostRoot_is_found(string method) =>
        AssertFound(method, "lists folders");

    [Theory]
    [InlineData("ImportsLibcItself")]
    [InlineData("ImportsLibvirtItself")]
    [InlineData("ImportsAnUnlistedLibrary")]
    [InlineData(nameof(Offender.LoadsALibraryByHand))]
    public void Native_code_outside_its_declaration_place_is_found(string method) =>
        AssertFound(method, "Native library outside its place");

    [Fact]
    public void A_bus_call_outside_SystemBus_is_found()
    {
        var found = ArchitectureRules.BusUses(_tests, Planted + nameof(PlantedBus)).ToList();
        Assert.Contains(found, v => v.Owner == Planted + nameof(Offender) && v.Detail.Contains(nameof(Offender.ConnectsToTheBusItself), StringComparison.Ordinal));
        Assert.DoesNotContain(found, v => v.Owner == Planted + nameof(PlantedBus));
    }

    [Fact]
    public void A_live_decision_outside_HostSystem_is_found()
    {
        var found = ArchitectureRules.LiveDecisions(_tests, ArchitectureRules.LiveReaders).ToList();
        Assert.Contains(found, v => v.Owner == Planted + nameof(Offender) && v.Detail.Contains(nameof(Offender.DecidesLiveItself), StringComparison.Ordinal));
        Assert.Empty(ArchitectureRules.LiveDecisions(_tests, new HashSet<string>(ArchitectureRules.LiveReaders) { Planted + nameof(Offender), "KvmHost.Core.Tests.Platform.HostRootTests" }));
    }

    [Fact]
    public void The_allowed_places_and_read_only_opens_are_left_alone()
    {
        string[] clean = [nameof(PlantedRunner), nameof(PlantedWriter), nameof(PlantedFolderReader), nameof(PlantedNativeMethods),
            nameof(PlantedLibvirtConnection), nameof(Reader)];
        Assert.Empty(_found.Where(v => clean.Any(c => v.Owner == Planted + c)).Select(v => v.ToString()));
    }

    private void AssertFound(string method, string rule)
    {
        var hits = _found.Where(v => v.Owner == Planted + nameof(Offender) && v.Detail.Contains(method, StringComparison.Ordinal)).ToList();
        Assert.True(hits.Any(v => v.Rule.Contains(rule, StringComparison.Ordinal)),
            $"{method}: expected a '{rule}' violation; found: {string.Join(" | ", hits)}");
    }
}
