using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Bridge;

namespace KvmHost.Commands;

/// <summary>Lists host bridges from ifcfg files, NetworkManager keyfiles and (on the live root) the running system. Changes nothing.</summary>
[Cmdlet(VerbsCommon.Get, "HostBridge")]
[OutputType(typeof(HostBridge))]
public sealed class GetHostBridgeCommand : KvmHostCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public string[] Name { get; set; } = [];

    protected override void EndCore()
    {
        var bridges = BridgeReport.Inventory(HostSystem);
        var patterns = Name.Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToList();
        foreach (var bridge in bridges.Where(b => patterns.Count == 0 || patterns.Any(p => p.IsMatch(b.Name))))
            WriteObject(bridge);
        foreach (string name in Name.Where(n => !WildcardPattern.ContainsWildcardCharacters(n) && !bridges.Any(b => b.Name == n)))
            WriteFailure(new Core.Platform.KvmHostException(Core.Platform.ErrorIds.BridgeNotFound, Core.Platform.FailureKind.ObjectNotFound,
                $"There is no bridge '{name}'.", name, "Run Get-HostBridge without -Name to list them."));
    }
}
