using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;

namespace KvmHost.Completion;

/// <summary>
/// Completes NIC names a bridge can take as its port: the -Root's network devices and the NICs its
/// configuration files name (no loopback, no bridges), from the same sources New-HostBridge reads.
/// </summary>
public sealed class InterfaceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionRoot.Complete(wordToComplete, fakeBoundParameters, InterfaceNames.Nics);
}

/// <summary>Completes bridge names: the -Root's running bridges and the bridges its ifcfg files and keyfiles define.</summary>
public sealed class BridgeNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionRoot.Complete(wordToComplete, fakeBoundParameters, InterfaceNames.Bridges);
}

internal static class CompletionRoot
{
    public static IEnumerable<CompletionResult> Complete(string? word, IDictionary fakeBoundParameters, Func<HostRoot, IReadOnlyList<string>> names)
    {
        string prefix = (word ?? string.Empty).Trim('\'', '"');
        if (Open(fakeBoundParameters) is not { } root) return [];
        return names(root).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n)).ToList();
    }

    /// <summary>The -Root typed so far (relative to the session's current folder), or "/"; null when it cannot be opened.</summary>
    private static HostRoot? Open(IDictionary fakeBoundParameters)
    {
        string root = fakeBoundParameters["Root"] is { } value ? LanguagePrimitives.ConvertTo<string>(value) : "/";
        try
        {
            return HostRoot.Open(Path.GetFullPath(root, CurrentLocation()));
        }
        catch (Exception e) when (e is KvmHostException or ArgumentException or IOException)
        {
            return null;
        }
    }

    /// <summary>PowerShell's current folder (not the process's): a nested pipeline on the runspace that is completing.</summary>
    private static string CurrentLocation()
    {
        try
        {
            using var shell = PowerShell.Create(RunspaceMode.CurrentRunspace);
            var location = shell.AddCommand("Microsoft.PowerShell.Management\\Get-Location").AddParameter("PSProvider", "FileSystem").Invoke<PathInfo>();
            if (location.Count > 0) return location[0].ProviderPath;
        }
        catch (Exception e) when (e is PSInvalidOperationException or InvalidOperationException or RuntimeException) { }
        return Environment.CurrentDirectory;
    }
}
