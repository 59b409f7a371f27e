using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace KvmHost.Completion;

/// <summary>Completes NIC names from /sys/class/net: no loopback and no bridges (they cannot become ports).</summary>
public sealed class InterfaceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        NetDevices.Complete(wordToComplete, name => name != "lo" && !Directory.Exists($"/sys/class/net/{name}/bridge"));
}

/// <summary>Completes the names of running bridges (those with /sys/class/net/NAME/bridge).</summary>
public sealed class BridgeNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        NetDevices.Complete(wordToComplete, name => Directory.Exists($"/sys/class/net/{name}/bridge"));
}

internal static class NetDevices
{
    public static IEnumerable<CompletionResult> Complete(string word, Func<string, bool> keep)
    {
        string prefix = (word ?? string.Empty).Trim('\'', '"');
        IEnumerable<string> names;
        try { names = Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).OfType<string>(); }
        catch (IOException) { yield break; }
        catch (UnauthorizedAccessException) { yield break; }
        foreach (string name in names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && keep(n)).Order(StringComparer.Ordinal))
            yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, name);
    }
}
