using System.Text;
using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// A network-scripts ifcfg file: shell variable assignments that initscripts sources with bash and
/// NetworkManager's ifcfg-rh plugin parses. Edits keep comments and unknown keys in place; values are
/// quoted the way NetworkManager's writer does (bare when safe, else double quotes with \ " $ `
/// escaped), and a value with a control character is refused, so nothing can inject a line or a command.
/// </summary>
internal sealed partial class IfcfgFile
{
    private readonly List<string> _lines;

    private IfcfgFile(List<string> lines) => _lines = lines;

    public static IfcfgFile Empty() => new([]);

    /// <summary>
    /// Parses line by line. A value whose quote stays open to the end of its line (bash reads on into the next
    /// lines) or that ends in a continuing backslash is refused: editing such a file line by line would leave
    /// half a value behind, and bash would then fail to source the whole file. Only checked when a
    /// <paramref name="path"/> is given: the files the module reads values from or rewrites, not a scan of the directory.
    /// </summary>
    public static IfcfgFile Parse(string text, string? path = null)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        for (int i = 0; path is not null && i < lines.Count; i++)
        {
            if (KeyOf(lines[i]) is { } key && ContinuesOnNextLine(lines[i][(lines[i].IndexOf('=') + 1)..]))
                throw new KvmHostException(ErrorIds.IfcfgFileMalformed, FailureKind.InvalidData,
                    $"{path} line {i + 1}: the value of {key} continues on the next line (an open quote or a trailing backslash); " +
                    "the file was not changed.", path,
                    "Put the value on one line (network-scripts values never need a newline), then run the command again.");
        }
        return new IfcfgFile(lines);
    }

    private static bool ContinuesOnNextLine(string raw)
    {
        char quote = '\0';
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (quote == '\'') { if (c == '\'') quote = '\0'; }
            else if (c == '\\') { if (++i >= raw.Length) return true; }
            else if (quote == '"') { if (c == '"') quote = '\0'; }
            else if (c is '"' or '\'') quote = c;
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(raw[i - 1]))) return false;
        }
        return quote != '\0';
    }

    public IEnumerable<string> Keys => _lines.Select(KeyOf).OfType<string>();

    public string? Get(string key)
    {
        for (int i = _lines.Count - 1; i >= 0; i--)
            if (KeyOf(_lines[i]) == key) return ValueOf(_lines[i]);
        return null;
    }

    /// <summary>Sets a key in place (first occurrence, later duplicates removed) or appends it.</summary>
    public IfcfgFile Set(string key, string value)
    {
        string line = $"{key}={Quote(value, key)}";
        int first = _lines.FindIndex(l => KeyOf(l) == key);
        if (first < 0) { _lines.Add(line); return this; }
        _lines[first] = line;
        for (int i = _lines.Count - 1; i > first; i--)
            if (KeyOf(_lines[i]) == key) _lines.RemoveAt(i);
        return this;
    }

    public IfcfgFile SetOrRemove(string key, string? value) => value is null ? Remove(key) : Set(key, value);

    public IfcfgFile Remove(string key) => RemoveWhere(k => k == key);

    public IfcfgFile RemoveWhere(Func<string, bool> predicate)
    {
        _lines.RemoveAll(l => KeyOf(l) is { } k && predicate(k));
        return this;
    }

    public string Render()
    {
        var builder = new StringBuilder();
        foreach (string line in _lines) builder.Append(line).Append('\n');
        return builder.ToString();
    }

    public static string Quote(string value, string key)
    {
        if (value.Any(char.IsControl))
            throw new KvmHostException(ErrorIds.UnsafeConfigurationValue, FailureKind.InvalidArgument,
                $"The value for {key} contains a control character; it would break the ifcfg file. Nothing was changed.",
                key, "Remove newlines and control characters from the value.");
        if (value.Length > 0 && SafeValue().IsMatch(value)) return value;
        var builder = new StringBuilder("\"");
        foreach (char c in value)
        {
            if (c is '"' or '\\' or '$' or '`') builder.Append('\\');
            builder.Append(c);
        }
        return builder.Append('"').ToString();
    }

    private static string? KeyOf(string line)
    {
        var match = Assignment().Match(line);
        return match.Success ? match.Groups[1].Value : null;
    }

    private static string ValueOf(string line)
    {
        string raw = line[(line.IndexOf('=') + 1)..];
        var value = new StringBuilder();
        char quote = '\0';
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (quote == '\'')
            {
                if (c == '\'') quote = '\0'; else value.Append(c);
            }
            else if (quote == '"')
            {
                if (c == '"') quote = '\0';
                else if (c == '\\' && i + 1 < raw.Length && raw[i + 1] is '"' or '\\' or '$' or '`') value.Append(raw[++i]);
                else value.Append(c);
            }
            else if (c is '"' or '\'') quote = c;
            else if (c == '\\' && i + 1 < raw.Length) value.Append(raw[++i]);
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(raw[i - 1]))) break;
            else if (char.IsWhiteSpace(c)) break;
            else value.Append(c);
        }
        return value.ToString();
    }

    [GeneratedRegex(@"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"^[A-Za-z0-9_@%+=:,./-]+$")]
    private static partial Regex SafeValue();
}
