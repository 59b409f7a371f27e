using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Completion;

/// <summary>Completes checkpoint names of the guest(s) the command line names with -Name (every guest's without it).</summary>
public sealed class CheckpointNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        var guests = fakeBoundParameters["Name"] switch
        {
            string one => [one],
            object[] many => many.OfType<string>().ToList(),
            _ => new List<string>(),
        };
        var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        try
        {
            string uri = LibvirtUri.Resolve(fakeBoundParameters["Uri"] as string, Environment.GetEnvironmentVariable(LibvirtUri.EnvironmentVariable));
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(3)); // completion must never hang the prompt
            using var connection = LibvirtConnection.Open(uri, LibvirtAccess.PreferReadWrite, cancel.Token);
            using var catalog = GuestCatalog.List(connection);
            var patterns = guests.Select(g => new WildcardPattern(g, WildcardOptions.IgnoreCase)).ToList();
            foreach (var guest in catalog.Guests.Where(g => patterns.Count == 0 || patterns.Any(p => p.IsMatch(g.Name))))
                foreach (var checkpoint in GuestCheckpoints.List(guest)) names.Add(checkpoint.Name);
        }
        catch (Exception e) when (e is KvmHostException or OperationCanceledException or WildcardPatternException or InvalidDataException)
        {
            yield break;
        }
        foreach (string name in names.Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
        {
            string text = name.Any(c => char.IsWhiteSpace(c) || c is '$' or '`' or '(' or ')' or '{' or '}' or ';' or ',' or '#' or '[' or ']' or '*' or '?')
                ? $"'{name}'" : name;
            yield return new CompletionResult(text, name, CompletionResultType.ParameterValue, name);
        }
    }
}
