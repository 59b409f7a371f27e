using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>Parameter set names shared by the guest cmdlets.</summary>
internal static class GuestParameterSets
{
    public const string ByName = nameof(ByName);
    public const string ByGuest = nameof(ByGuest);
    public const string ByUuid = nameof(ByUuid);
}

/// <summary>
/// The guest cmdlets' base: -Uri instead of -Root. libvirt is reached through a connection, not a file
/// tree, so there is no offline image to act on and -Root would be a parameter that does nothing; what
/// the guest cmdlets need instead is the choice of daemon (local, another socket, a remote host), which
/// -Uri gives exactly as virsh -c does. Connections are opened once per URI per pipeline and closed when
/// the cmdlet is disposed; guests piped in as objects are acted on through the URI they were read from.
/// </summary>
public abstract class KvmGuestCmdlet : KvmCmdlet
{
    private const int ProgressId = 14;
    private readonly Dictionary<string, LibvirtConnection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GuestCatalog> _catalogs = new(StringComparer.Ordinal);
    private readonly List<GuestCatalog> _stale = [];

    /// <summary>The libvirt URI; default $env:LIBVIRT_DEFAULT_URI, else qemu:///system.</summary>
    [Parameter(ParameterSetName = GuestParameterSets.ByName)]
    [Parameter(ParameterSetName = GuestParameterSets.ByUuid, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public virtual string? Uri { get; set; }

    /// <summary>The URI this record acts through (-Uri, the environment, or the default), checked before libvirt is loaded.</summary>
    protected string TargetUri => LibvirtUri.Resolve(Uri, Environment.GetEnvironmentVariable(LibvirtUri.EnvironmentVariable));

    private protected override void Prepare() => _ = TargetUri;

    /// <summary>-WhatIf was given (or $WhatIfPreference is set): a preview, in which New- and Remove-KvmGuest say more than ShouldProcess can.</summary>
    protected bool WhatIfRequested => MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? value)
        ? ((SwitchParameter)value).IsPresent
        : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference", false));

    protected LibvirtConnection Connect(string uri)
    {
        if (!_connections.TryGetValue(uri, out var connection))
            _connections[uri] = connection = LibvirtConnection.Open(uri, LibvirtAccess.PreferReadWrite, Cancellation, VerboseWhileRunning);
        return connection;
    }

    /// <summary>
    /// Write-Verbose for logs that run during cleanup too: while the pipeline stops (Ctrl+C) writing throws, and a log
    /// line must never cut short the undoing of a half-made guest. The line is dropped then.
    /// </summary>
    protected void VerboseWhileRunning(string line)
    {
        try
        {
            WriteVerbose(line);
        }
        catch (PipelineStoppedException)
        {
        }
    }

    /// <summary>The guests on <paramref name="uri"/>, listed once per pipeline; <paramref name="refresh"/> lists again (a guest defined meanwhile).</summary>
    protected GuestCatalog Catalog(string uri, bool refresh = false)
    {
        if (_catalogs.TryGetValue(uri, out var catalog) && !refresh) return catalog;
        if (catalog is not null) _stale.Add(catalog); // its entries may still be waited on; freed at the end
        return _catalogs[uri] = GuestCatalog.List(Connect(uri));
    }

    /// <summary>
    /// Guests matching each name or wildcard pattern. Matching ignores case as PowerShell does, but a name
    /// that matches one guest exactly picks only that one (libvirt allows "web" and "Web" side by side).
    /// A name without wildcards that matches nothing is a GuestNotFound error for that name; the others go on.
    /// </summary>
    protected List<GuestEntry> FindByName(IEnumerable<string> names, string uri)
    {
        var found = new List<GuestEntry>();
        foreach (string name in names)
        {
            GuestName.Validate(name);
            bool wildcard = WildcardPattern.ContainsWildcardCharacters(name);
            var matches = Match(Catalog(uri), name, wildcard);
            if (matches.Count == 0 && !wildcard) matches = Match(Catalog(uri, refresh: true), name, wildcard);
            if (matches.Count == 0 && !wildcard)
                WriteFailure(NotFound(name, uri));
            found.AddRange(matches);
        }
        return found.DistinctBy(g => g.Uuid).ToList();
    }

    private static List<GuestEntry> Match(GuestCatalog catalog, string name, bool wildcard)
    {
        if (!wildcard)
        {
            if (catalog.FindByName(name) is { } exact) return [exact];
            return catalog.Guests.Where(g => string.Equals(g.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
        }
        var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
        try
        {
            _ = pattern.IsMatch(string.Empty); // the pattern is parsed on first use: a broken one fails here, even with no guests
            return catalog.Guests.Where(g => pattern.IsMatch(g.Name)).ToList();
        }
        catch (WildcardPatternException e)
        {
            throw new KvmHostException(ErrorIds.GuestNameInvalid, FailureKind.InvalidArgument,
                $"'{name}' is not a usable wildcard pattern: {e.Message}", name,
                "Close each '[' with ']', or escape a literal bracket with a backtick (`[).", e);
        }
    }

    protected GuestEntry? FindByUuid(Guid uuid, string uri, string shownName)
    {
        var entry = Catalog(uri).FindByUuid(uuid) ?? Catalog(uri, refresh: true).FindByUuid(uuid);
        if (entry is null) WriteFailure(NotFound(shownName, uri));
        return entry;
    }

    /// <summary>A guest object from Get-KvmGuest: found again by its UUID through the URI it came from.</summary>
    protected GuestEntry? Find(KvmGuest guest) => FindByUuid(guest.Uuid, guest.Uri, guest.Name);

    /// <summary>
    /// The guests a record names through its parameter set (objects, UUIDs by property name, or names and patterns;
    /// every guest when no name is given), once each; missing ones are reported (GuestNotFound) and skipped.
    /// </summary>
    protected List<GuestEntry> ResolveGuests(string[]? names, KvmGuest[] guests, Guid[] uuids)
    {
        string uri = TargetUri;
        List<GuestEntry> found = ParameterSetName switch
        {
            GuestParameterSets.ByGuest => guests.Select(Find).OfType<GuestEntry>().ToList(),
            GuestParameterSets.ByUuid => uuids.Select(u => FindByUuid(u, uri, u.ToString())).OfType<GuestEntry>().ToList(),
            _ => names is { Length: > 0 } ? FindByName(names, uri) : [.. Catalog(uri).Guests],
        };
        return found.DistinctBy(g => (g.Uuid, g.Connection.Uri)).ToList();
    }

    /// <summary>Reads the guests as objects, in bulk per connection, sorted by name.</summary>
    protected static IReadOnlyList<KvmGuest> Read(IEnumerable<GuestEntry> entries, Func<GuestState, bool>? keep = null) =>
        entries.GroupBy(e => e.Connection)
            .SelectMany(group => GuestReader.Read(group.ToList(), keep))
            .OrderBy(g => g.Name, StringComparer.OrdinalIgnoreCase).ThenBy(g => g.Uri, StringComparer.Ordinal)
            .ToList();

    protected void ShowProgress(GuestWaitProgress progress) =>
        WriteProgress(new ProgressRecord(ProgressId, progress.Activity, progress.Status)
        {
            PercentComplete = progress.PercentComplete,
            SecondsRemaining = progress.SecondsRemaining,
        });

    protected void EndProgress(string activity) =>
        WriteProgress(new ProgressRecord(ProgressId, activity, "Done") { RecordType = ProgressRecordType.Completed });

    private static KvmHostException NotFound(string name, string uri) =>
        new(ErrorIds.GuestNotFound, FailureKind.ObjectNotFound, $"There is no guest named '{name}' on {uri}.", name,
            $"Get-KvmGuest -Uri '{uri}' lists the guests there; names are matched ignoring case, wildcards are allowed.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var catalog in _catalogs.Values.Concat(_stale)) catalog.Dispose();
            foreach (var connection in _connections.Values) connection.Dispose();
            _catalogs.Clear();
            _stale.Clear();
            _connections.Clear();
        }
        base.Dispose(disposing);
    }
}
