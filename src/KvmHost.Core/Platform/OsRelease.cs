using System.Text;

namespace KvmHost.Core.Platform;

/// <summary>The fields of an os-release file (freedesktop.org format: KEY=value, shell-style quoting).</summary>
internal sealed class OsRelease
{
    private readonly Dictionary<string, string> _fields;

    private OsRelease(Dictionary<string, string> fields) => _fields = fields;

    public string Id => Get("ID") ?? "linux";
    public IReadOnlyList<string> IdLike => (Get("ID_LIKE") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
    public string? VersionId => Get("VERSION_ID");
    public string PrettyName => Get("PRETTY_NAME") ?? Get("NAME") ?? Id;
    public IReadOnlyDictionary<string, string> Fields => _fields;

    public string? Get(string key) => _fields.TryGetValue(key, out var value) ? value : null;

    public static OsRelease Parse(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string rawLine in text.Split('\n'))
        {
            string line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int eq = line.IndexOf('=');
            if (eq <= 0) continue;
            fields[line[..eq].Trim()] = Unquote(line[(eq + 1)..].Trim());
        }
        return new OsRelease(fields);
    }

    /// <summary>Builds the fields from an old "/etc/redhat-release" line ("CentOS Linux release 7.1.1503 (Core)").</summary>
    internal static OsRelease FromRedHatRelease(string line)
    {
        line = line.Trim();
        var fields = new Dictionary<string, string>(StringComparer.Ordinal) { ["PRETTY_NAME"] = line, ["NAME"] = line };
        var match = System.Text.RegularExpressions.Regex.Match(line, @"release\s+(\d+(?:\.\d+)*)");
        if (match.Success) fields["VERSION_ID"] = match.Groups[1].Value;
        fields["ID"] = line.StartsWith("CentOS", StringComparison.OrdinalIgnoreCase) ? "centos"
            : line.StartsWith("Rocky", StringComparison.OrdinalIgnoreCase) ? "rocky"
            : line.StartsWith("AlmaLinux", StringComparison.OrdinalIgnoreCase) ? "almalinux"
            : line.StartsWith("Oracle", StringComparison.OrdinalIgnoreCase) ? "ol"
            : line.StartsWith("Fedora", StringComparison.OrdinalIgnoreCase) ? "fedora"
            : "rhel";
        return new OsRelease(fields);
    }

    private static string Unquote(string value)
    {
        if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'') return value[1..^1];
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            var builder = new StringBuilder(value.Length);
            for (int i = 1; i < value.Length - 1; i++)
            {
                if (value[i] == '\\' && i + 1 < value.Length - 1) i++;
                builder.Append(value[i]);
            }
            return builder.ToString();
        }
        return value;
    }
}
