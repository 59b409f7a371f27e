using System.Globalization;
using System.Xml;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>One operating system of libosinfo's database, as virt-install's --os-variant names it.</summary>
public sealed record OsInfoEntry(string Id, IReadOnlyList<string> ShortIds, string? Name, string? Family, string? ReleaseDate)
{
    /// <summary>The first short id, the one osinfo-query prints.</summary>
    public string ShortId => ShortIds[0];

    public override string ToString() => Name is null ? ShortId : $"{ShortId} ({Name})";
}

/// <summary>
/// The host's libosinfo database (osinfo-db): what virt-install accepts as --os-variant, read from the same folders
/// libosinfo reads (system, local, user; each overridable by libosinfo's own variables), so New-KvmGuest can refuse
/// an unknown variant before virt-install runs and tab completion offers exactly what this host knows. virt-install
/// always runs on this machine, whatever -Uri names, so this machine's database is the one that counts. Only the
/// head of each &lt;os&gt; (ids, name, family, release date) is read.
/// </summary>
public sealed class OsInfoDatabase
{
    /// <summary>libosinfo's folders in its own order (a later one overrides an earlier one's entry of the same id).</summary>
    public static IReadOnlyList<string> Folders(Func<string, string?> environment)
    {
        string? home = environment("HOME");
        return new[]
        {
            "/usr/share/libosinfo/db", // before osinfo-db existed as its own package (RHEL 7's libosinfo 1.1)
            environment("OSINFO_SYSTEM_DIR") ?? "/usr/share/osinfo",
            environment("OSINFO_LOCAL_DIR") ?? "/etc/osinfo",
            environment("OSINFO_USER_DIR") ?? (home is null ? null : $"{home.TrimEnd('/')}/.config/osinfo"),
        }.OfType<string>().Where(f => f.StartsWith('/')).Distinct().ToList();
    }

    private const string GenericLinuxPrefix = "http://libosinfo.org/linux/";

    private readonly Dictionary<string, OsInfoEntry> _byShortId;

    private OsInfoDatabase(IReadOnlyList<OsInfoEntry> entries, IReadOnlyList<string> folders)
    {
        Entries = entries;
        _folders = folders;
        _byShortId = new Dictionary<string, OsInfoEntry>(StringComparer.Ordinal);
        foreach (var entry in entries)
            foreach (string shortId in entry.ShortIds)
                _byShortId[shortId] = entry;
    }

    /// <summary>Every OS, sorted by short id.</summary>
    public IReadOnlyList<OsInfoEntry> Entries { get; }

    private readonly IReadOnlyList<string> _folders;

    /// <summary>Reads the database under <paramref name="root"/> from <paramref name="folders"/> (default: libosinfo's, from this process's environment).</summary>
    public static OsInfoDatabase Load(HostRoot root, IReadOnlyList<string>? folders = null)
    {
        folders ??= Folders(Environment.GetEnvironmentVariable);
        var byId = new Dictionary<string, OsInfoEntry>(StringComparer.Ordinal);
        foreach (string folder in folders)
        {
            foreach (var vendor in root.List($"{folder.TrimEnd('/')}/os").Where(e => e.Kind == FileKind.Directory))
            {
                foreach (var (_, text) in root.ReadTextFiles(vendor.Path, name => name.EndsWith(".xml", StringComparison.Ordinal)))
                    foreach (var entry in Parse(text))
                        byId[entry.Id] = entry;
            }
        }
        var entries = byId.Values.OrderBy(e => e.ShortId, StringComparer.Ordinal).ToList();
        return new OsInfoDatabase(entries, folders);
    }

    /// <summary>The OS a short id (rhel9.4) or a full libosinfo id (http://redhat.com/rhel/9.4) names; null when none.</summary>
    public OsInfoEntry? Find(string variant)
    {
        if (_byShortId.TryGetValue(variant, out var entry)) return entry;
        return Entries.FirstOrDefault(e => e.Id == variant);
    }

    /// <summary>
    /// The default for guests whose install source says nothing about their OS (an imported disk, a kernel, a cloud
    /// image): the newest of libosinfo's generic Linux entries (linux2022 in osinfo-db 2022), which gives virtio
    /// devices and a q35 machine. Null when the database has none (osinfo-db older than 2021).
    /// </summary>
    public OsInfoEntry? NewestGenericLinux() =>
        Entries.Where(e => e.Id.StartsWith(GenericLinuxPrefix, StringComparison.Ordinal)
                && int.TryParse(e.Id.AsSpan(GenericLinuxPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .MaxBy(e => int.Parse(e.Id.AsSpan(GenericLinuxPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture));

    /// <summary>Throws GuestOsVariantUnknown unless the database knows <paramref name="variant"/>; returns its entry.</summary>
    public OsInfoEntry Require(string variant)
    {
        if (Find(variant) is { } entry) return entry;
        if (Entries.Count == 0)
            throw new KvmHostException(ErrorIds.GuestOsVariantUnknown, FailureKind.NotInstalled,
                $"No libosinfo database was found in {string.Join(", ", _folders)}, so -OsVariant '{variant}' cannot be checked and virt-install would refuse it.",
                variant, "Install osinfo-db (it comes with virt-install: Install-KvmPackages), or update it with osinfo-db-import.");
        string letters = new(variant.TakeWhile(char.IsAsciiLetter).ToArray());
        var close = Entries.Where(e => letters.Length > 0 && e.ShortId.StartsWith(letters, StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(e => e.ReleaseDate, StringComparer.Ordinal).Take(6).Select(e => e.ShortId).ToList();
        throw new KvmHostException(ErrorIds.GuestOsVariantUnknown, FailureKind.InvalidArgument,
            $"'{variant}' is not an OS this host's libosinfo database knows ({Entries.Count} entries), so virt-install would refuse it. Nothing was created.",
            variant, close.Count > 0
                ? $"Did you mean {string.Join(", ", close)}? Tab completion of -OsVariant lists them all; leave -OsVariant out for the default."
                : "Tab completion of -OsVariant lists what this host knows; a newer osinfo-db knows newer releases.");
    }

    /// <summary>The &lt;os&gt; entries of one osinfo-db file; a file that is not one (or is broken) has none.</summary>
    internal static IReadOnlyList<OsInfoEntry> Parse(string xml)
    {
        var entries = new List<OsInfoEntry>();
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings
            {
                DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true, IgnoreWhitespace = true,
            });
            while (reader.Read())
            {
                if (reader.NodeType != XmlNodeType.Element || reader.LocalName != "os" || reader.Depth != 1) continue;
                string? id = reader.GetAttribute("id");
                if (string.IsNullOrEmpty(id) || reader.IsEmptyElement) continue;
                var shortIds = new List<string>();
                string? name = null, family = null, released = null;
                int depth = reader.Depth;
                reader.Read();
                while (!reader.EOF && reader.Depth > depth)
                {
                    if (reader.NodeType != XmlNodeType.Element) { reader.Read(); continue; }
                    if (reader.Depth != depth + 1) { reader.Skip(); continue; }
                    bool translated = reader.GetAttribute("xml:lang") is not null;
                    switch (reader.LocalName)
                    {
                        case "short-id": shortIds.Add(reader.ReadElementContentAsString().Trim()); break;
                        case "name" when !translated: name ??= reader.ReadElementContentAsString().Trim(); break;
                        case "family": family ??= reader.ReadElementContentAsString().Trim(); break;
                        case "release-date": released ??= reader.ReadElementContentAsString().Trim(); break;
                        default: reader.Skip(); break;
                    }
                }
                shortIds.RemoveAll(string.IsNullOrEmpty);
                if (shortIds.Count > 0) entries.Add(new OsInfoEntry(id, shortIds, name, family, released));
            }
        }
        catch (XmlException)
        {
            // A broken file in a database folder is passed over, as libosinfo does.
        }
        return entries;
    }
}
