using System.Text;

namespace KvmHost.Core.Sysctl;

/// <summary>
/// Sysctl names the way systemd-sysctl compares them (sysctl.d(5)): "." and "/" both separate; when the
/// first separator is a dot, dots and slashes swap ("net.ipv4.conf.eth0/10.rp_filter" names the
/// interface "eth0.10"), otherwise the name is already a path. The canonical form is the path under
/// /proc/sys ("net/ipv4/ip_forward"), so two spellings of one key compare equal.
/// </summary>
public static class SysctlKey
{
    public static string Normalize(string name)
    {
        name = name.Trim();
        int firstSeparator = name.IndexOfAny(['.', '/']);
        if (firstSeparator < 0 || name[firstSeparator] == '/') return name.TrimStart('/');
        var path = new StringBuilder(name.Length);
        foreach (char c in name) path.Append(c == '.' ? '/' : c == '/' ? '.' : c);
        return path.ToString();
    }

    /// <summary>The dotted spelling admins type ("net.ipv4.ip_forward").</summary>
    public static string ToDotted(string path)
    {
        var dotted = new StringBuilder(path.Length);
        foreach (char c in path) dotted.Append(c == '/' ? '.' : c == '.' ? '/' : c);
        return dotted.ToString();
    }

    public static string ProcPath(string path) => "/proc/sys/" + path;

    /// <summary>systemd's string_is_glob: the name holds a glob(7) metacharacter.</summary>
    public static bool IsGlob(string path) => path.IndexOfAny(['*', '?', '[']) >= 0;

    /// <summary>
    /// glob(7) matching of a normalized pattern against a normalized key, with "/" never matched by a
    /// wildcard (systemd expands the pattern as a path under /proc/sys).
    /// </summary>
    public static bool GlobMatches(string pattern, string path) => Match(pattern.AsSpan(), path.AsSpan());

    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        while (!pattern.IsEmpty)
        {
            char p = pattern[0];
            if (p == '*')
            {
                ReadOnlySpan<char> rest = pattern[1..];
                for (int i = 0; i <= text.Length; i++)
                {
                    if (Match(rest, text[i..])) return true;
                    if (i < text.Length && text[i] == '/') break;
                }
                return false;
            }
            if (text.IsEmpty || text[0] == '/' && p != '/') return false;
            if (p == '?') { pattern = pattern[1..]; text = text[1..]; continue; }
            if (p == '[' && SetEnd(pattern) is int end and > 0)
            {
                if (!InSet(pattern[1..end], text[0])) return false;
                pattern = pattern[(end + 1)..];
                text = text[1..];
                continue;
            }
            if (p == '\\' && pattern.Length > 1) { pattern = pattern[1..]; p = pattern[0]; }
            if (text[0] != p) return false;
            pattern = pattern[1..];
            text = text[1..];
        }
        return text.IsEmpty;
    }

    /// <summary>Index of the "]" closing a bracket expression; a "]" first in the set is literal. -1 when unclosed.</summary>
    private static int SetEnd(ReadOnlySpan<char> pattern)
    {
        int i = 1;
        if (i < pattern.Length && pattern[i] is '!' or '^') i++;
        if (i < pattern.Length && pattern[i] == ']') i++;
        int close = pattern[i..].IndexOf(']');
        return close < 0 ? -1 : i + close;
    }

    private static bool InSet(ReadOnlySpan<char> set, char c)
    {
        bool negate = set.Length > 0 && (set[0] == '!' || set[0] == '^');
        if (negate) set = set[1..];
        bool found = false;
        for (int i = 0; i < set.Length; i++)
        {
            if (i + 2 < set.Length && set[i + 1] == '-')
            {
                if (c >= set[i] && c <= set[i + 2]) found = true;
                i += 2;
            }
            else if (set[i] == c) found = true;
        }
        return found != negate;
    }
}
