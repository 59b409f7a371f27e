using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Completion;

/// <summary>Completes guest names from the libvirt the command line points at (its -Uri, else the default).</summary>
public sealed class GuestNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        List<string> names;
        try
        {
            string uri = LibvirtUri.Resolve(fakeBoundParameters["Uri"] as string, Environment.GetEnvironmentVariable(LibvirtUri.EnvironmentVariable));
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(3)); // completion must never hang the prompt
            using var connection = LibvirtConnection.Open(uri, LibvirtAccess.PreferReadWrite, cancel.Token);
            using var catalog = GuestCatalog.List(connection);
            names = catalog.Guests.Select(g => g.Name).ToList();
        }
        catch (Exception e) when (e is KvmHostException or OperationCanceledException)
        {
            yield break;
        }
        foreach (string name in names.Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.OrdinalIgnoreCase))
        {
            string text = name.Any(c => char.IsWhiteSpace(c) || c is '$' or '`' or '(' or ')' or '{' or '}' or ';' or ',' or '#') ? $"'{name}'" : name;
            yield return new CompletionResult(text, name, CompletionResultType.ParameterValue, name);
        }
    }
}
