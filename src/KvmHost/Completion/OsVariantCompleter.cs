using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Completion;

/// <summary>
/// Completes -OsVariant from this host's libosinfo database, the one New-KvmGuest checks against and virt-install
/// reads: short ids that start with what was typed (ignoring case), each with the OS's name as its tooltip. The
/// database is read once per minute at most, so completing twice does not read 800 files twice.
/// </summary>
public sealed class OsVariantCompleter : IArgumentCompleter
{
    private static readonly TimeSpan KeepFor = TimeSpan.FromMinutes(1);
    private static (OsInfoDatabase Database, DateTime Read)? _cache;

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        OsInfoDatabase database;
        try
        {
            database = Database();
        }
        catch (KvmHostException)
        {
            return [];
        }
        return database.Entries
            .SelectMany(e => e.ShortIds.Select(id => (Id: id, Entry: e)))
            .Where(p => p.Id.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .OrderBy(p => p.Id, StringComparer.OrdinalIgnoreCase)
            .Select(p => new CompletionResult(p.Id, p.Id, CompletionResultType.ParameterValue, p.Entry.Name ?? p.Id))
            .ToList();
    }

    private static OsInfoDatabase Database()
    {
        if (_cache is { } cached && DateTime.UtcNow - cached.Read < KeepFor) return cached.Database;
        var database = OsInfoDatabase.Load(HostRoot.Live);
        _cache = (database, DateTime.UtcNow);
        return database;
    }
}
