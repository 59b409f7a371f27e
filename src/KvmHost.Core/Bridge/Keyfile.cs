using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// A NetworkManager keyfile (.nmconnection): GKeyFile groups of key=value. Rendering follows
/// NetworkManager's own writer: groups separated by a blank line, values escaped like
/// g_key_file_set_string (\\, \n, \t, \r, \s for a leading space), list items joined with ';' and a
/// trailing ';'. Comments are not kept: NetworkManager drops them too whenever it saves a profile.
/// </summary>
internal sealed class Keyfile
{
    private readonly List<(string Name, List<(string Key, string Value)> Entries)> _groups = [];

    public IEnumerable<string> Groups => _groups.Select(g => g.Name);

    public static Keyfile Parse(string text)
    {
        var file = new Keyfile();
        List<(string, string)>? current = null;
        foreach (string raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            string line = raw.TrimStart();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line[0] == '[' && line.TrimEnd().EndsWith(']'))
            {
                string name = line.TrimEnd()[1..^1];
                current = file.GroupEntries(name, create: true);
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0 || current is null) continue;
            current.Add((line[..eq].TrimEnd(), Unescape(line[(eq + 1)..].TrimStart())));
        }
        return file;
    }

    /// <summary>
    /// Why NetworkManager (GLib's GKeyFile) would reject this text, or null when it would load it: a key
    /// before the first [group], or a line that is neither a comment, a group nor key=value.
    /// </summary>
    public static string? FindProblem(string text)
    {
        bool inGroup = false;
        int number = 0;
        foreach (string raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            number++;
            string line = raw.TrimStart();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line[0] == '[' && line.TrimEnd().EndsWith(']')) { inGroup = true; continue; }
            if (line.IndexOf('=') <= 0) return $"line {number} is neither a [group], a comment nor key=value";
            if (!inGroup) return $"line {number} has a key before the first [group]";
        }
        return null;
    }

    /// <summary>Parses a keyfile the module reads values from, refusing one NetworkManager itself would not load.</summary>
    public static Keyfile ParseStrict(string text, string path) =>
        FindProblem(text) is { } problem ? throw Malformed(path, problem) : Parse(text);

    public static KvmHostException Malformed(string path, string problem) =>
        new(ErrorIds.KeyfileMalformed, FailureKind.InvalidData,
            $"{path} is not a valid NetworkManager keyfile: {problem}. NetworkManager ignores it too. Nothing was changed.", path,
            "Fix the file (every key belongs under a [section], for example [connection]) or move it out of the directory, then run again.");

    public bool HasGroup(string group) => _groups.Any(g => g.Name == group);

    public string? Get(string group, string key) =>
        GroupEntries(group, create: false)?.LastOrDefault(e => e.Key == key).Value;

    /// <summary>Values of a list key ("a;b;"), without empty items.</summary>
    public IReadOnlyList<string> GetList(string group, string key) =>
        (Get(group, key) ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Numbered keys in order: address1, address2... (NetworkManager also reads "addresses").</summary>
    public IEnumerable<(string Key, string Value)> Entries(string group) => GroupEntries(group, create: false) ?? [];

    public Keyfile AddGroup(string group)
    {
        GroupEntries(group, create: true);
        return this;
    }

    public Keyfile Set(string group, string key, string value)
    {
        var entries = GroupEntries(group, create: true)!;
        int index = entries.FindIndex(e => e.Key == key);
        if (index >= 0) entries[index] = (key, value); else entries.Add((key, value));
        return this;
    }

    public Keyfile Remove(string group, string key)
    {
        GroupEntries(group, create: false)?.RemoveAll(e => e.Key == key);
        return this;
    }

    public Keyfile RemoveWhere(string group, Func<string, bool> predicate)
    {
        GroupEntries(group, create: false)?.RemoveAll(e => predicate(e.Key));
        return this;
    }

    public Keyfile RemoveGroup(string group)
    {
        _groups.RemoveAll(g => g.Name == group);
        return this;
    }

    public string Render()
    {
        var builder = new StringBuilder();
        for (int i = 0; i < _groups.Count; i++)
        {
            if (i > 0) builder.Append('\n');
            builder.Append('[').Append(_groups[i].Name).Append("]\n");
            foreach (var (key, value) in _groups[i].Entries)
                builder.Append(key).Append('=').Append(Escape(value, key)).Append('\n');
        }
        return builder.ToString();
    }

    /// <summary>A list value as NetworkManager writes it: "a;b;".</summary>
    public static string JoinList(IEnumerable<string> items) => string.Concat(items.Select(i => i.Replace(";", "\\;") + ";"));

    private List<(string Key, string Value)>? GroupEntries(string name, bool create)
    {
        foreach (var group in _groups) if (group.Name == name) return group.Entries;
        if (!create) return null;
        var entries = new List<(string, string)>();
        _groups.Add((name, entries));
        return entries;
    }

    private static string Escape(string value, string key)
    {
        if (value.Any(c => char.IsControl(c) && c is not '\t'))
            throw new KvmHostException(ErrorIds.UnsafeConfigurationValue, FailureKind.InvalidArgument,
                $"The value for {key} contains a control character; it would break the keyfile. Nothing was changed.",
                key, "Remove newlines and control characters from the value.");
        var builder = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == ' ' && i == 0) builder.Append("\\s");
            else if (c == '\\' && !(i + 1 < value.Length && value[i + 1] == ';')) builder.Append("\\\\");
            else if (c == '\t') builder.Append("\\t");
            else builder.Append(c);
        }
        return builder.ToString();
    }

    private static string Unescape(string value)
    {
        var builder = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\' || i + 1 == value.Length) { builder.Append(value[i]); continue; }
            char next = value[++i];
            builder.Append(next switch { 's' => " ", 'n' => "\n", 't' => "\t", 'r' => "\r", '\\' => "\\", ';' => "\\;", _ => "\\" + next });
        }
        return builder.ToString();
    }
}
