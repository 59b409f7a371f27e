using System.Text;

namespace KvmHost.Core.Sysctl;

/// <summary>One active line of a sysctl file: an assignment, or a "-key" exclusion (Value null).</summary>
internal sealed record SysctlEntry(string Key, string? Value, bool IgnoreFailure, int LineNumber, string Text);

/// <summary>What one edit did to one line, for -WhatIf and verbose output.</summary>
public sealed record SysctlLineEdit(int LineNumber, string? Before, string After)
{
    public override string ToString() => Before is null
        ? $"add line {LineNumber} '{After}'"
        : $"line {LineNumber}: '{Before}' -> '{After}'";
}

/// <summary>
/// A sysctl.conf / sysctl.d file kept as its exact lines, so an edit changes only the value of the
/// assignments it targets and leaves every other byte (comments, blank lines, spacing, CRLF endings,
/// a missing final newline) as it was. Parsing follows systemd-sysctl: blank lines and lines starting
/// with "#" or ";" are ignored, "key = value" (spaces optional) assigns, a leading "-" means "ignore
/// failure" and "-key" alone only excludes the key from globs. There are no trailing comments: the
/// value is everything after "=" (trimmed).
/// </summary>
internal sealed class SysctlFile
{
    private readonly List<(string Content, string Ending)> _lines;

    private SysctlFile(List<(string, string)> lines) => _lines = lines;

    public static SysctlFile Parse(string text)
    {
        var lines = new List<(string, string)>();
        int start = 0;
        while (start < text.Length)
        {
            int newline = text.IndexOf('\n', start);
            if (newline < 0) { lines.Add((text[start..], string.Empty)); break; }
            bool crlf = newline > start && text[newline - 1] == '\r';
            lines.Add((text[start..(crlf ? newline - 1 : newline)], crlf ? "\r\n" : "\n"));
            start = newline + 1;
        }
        return new SysctlFile(lines);
    }

    public static SysctlFile Empty => new([]);

    public string Text
    {
        get
        {
            var text = new StringBuilder();
            foreach (var (content, ending) in _lines) text.Append(content).Append(ending);
            return text.ToString();
        }
    }

    public IEnumerable<SysctlEntry> Entries()
    {
        for (int i = 0; i < _lines.Count; i++)
            if (ParseLine(_lines[i].Content, i + 1) is { } entry) yield return entry;
    }

    /// <summary>Active entries of one key (any spelling), in file order.</summary>
    public IReadOnlyList<SysctlEntry> EntriesFor(string normalizedKey) =>
        Entries().Where(e => e.Key == normalizedKey).ToList();

    /// <summary>
    /// Makes the file assign <paramref name="value"/> to the key: every active assignment of the key
    /// (and any "-key" exclusion, which would otherwise cancel it) gets the value in place, keeping its
    /// own spelling and spacing; when there is none, one line is appended. Commented-out lines stay.
    /// </summary>
    public IReadOnlyList<SysctlLineEdit> Set(string normalizedKey, string dottedKey, string value)
    {
        var edits = new List<SysctlLineEdit>();
        bool assigned = false;
        for (int i = 0; i < _lines.Count; i++)
        {
            var (content, ending) = _lines[i];
            if (ParseLine(content, i + 1) is not { } entry || entry.Key != normalizedKey) continue;
            assigned = true;
            if (entry.Value == value) continue;
            string replaced = entry.Value is null ? content.TrimEnd() + " = " + value : WithValue(content, value);
            _lines[i] = (replaced, ending);
            edits.Add(new SysctlLineEdit(i + 1, content, replaced));
        }
        if (!assigned)
        {
            // The last line keeps its bytes; it only gains the newline it needs to end.
            if (_lines.Count > 0 && _lines[^1].Ending.Length == 0) _lines[^1] = (_lines[^1].Content, DominantEnding());
            string line = $"{dottedKey} = {value}";
            _lines.Add((line, DominantEnding()));
            edits.Add(new SysctlLineEdit(_lines.Count, null, line));
        }
        return edits;
    }

    /// <summary>Adds comment lines (each given without "#") at the end; used for a new file's header.</summary>
    public void AppendComment(string comment)
    {
        foreach (string line in comment.Split('\n')) _lines.Add(("# " + line, "\n"));
    }

    private string DominantEnding() => _lines.Count(l => l.Ending == "\r\n") > _lines.Count / 2 && _lines.Count > 0 ? "\r\n" : "\n";

    private static string WithValue(string content, string value)
    {
        int equals = content.IndexOf('=');
        int valueStart = equals + 1;
        while (valueStart < content.Length && char.IsWhiteSpace(content[valueStart])) valueStart++;
        int valueEnd = content.Length;
        while (valueEnd > valueStart && char.IsWhiteSpace(content[valueEnd - 1])) valueEnd--;
        return content[..valueStart] + value + content[valueEnd..];
    }

    private static SysctlEntry? ParseLine(string content, int lineNumber)
    {
        string line = content.Trim();
        if (line.Length == 0 || line[0] is '#' or ';') return null;
        bool dash = line[0] == '-';
        int equals = line.IndexOf('=');
        if (equals < 0)
        {
            // "-key" alone excludes the key from globs; anything else is not an assignment (systemd warns).
            return dash && line.Length > 1 ? new SysctlEntry(SysctlKey.Normalize(line[1..]), null, true, lineNumber, content) : null;
        }
        string key = line[(dash ? 1 : 0)..equals].Trim();
        if (key.Length == 0) return null;
        return new SysctlEntry(SysctlKey.Normalize(key), line[(equals + 1)..].Trim(), dash, lineNumber, content);
    }
}
