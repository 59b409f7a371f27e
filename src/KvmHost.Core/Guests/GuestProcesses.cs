using System.Globalization;
using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>
/// When each running guest's QEMU process started: libvirt has no call for a guest's uptime, but QEMU runs
/// with "-uuid UUID" on its command line, and /proc/PID/stat has the start time. Only meaningful for a
/// daemon on this machine (see <see cref="LibvirtUri.IsLocal"/>); a process in a PID namespace we cannot see
/// simply gives no time. One pass over /proc for all guests.
/// </summary>
internal static class GuestProcesses
{
    private static readonly byte[] UuidOption = Encoding.ASCII.GetBytes("-uuid\0");

    public static Dictionary<Guid, DateTime> StartTimes(IReadOnlySet<Guid> wanted, string proc = "/proc")
    {
        var found = new Dictionary<Guid, DateTime>();
        if (wanted.Count == 0) return found;
        DateTime? boot = BootTime(proc);
        if (boot is null) return found;
        long ticksPerSecond = NativeMethods.ClockTicksPerSecond;
        IReadOnlyList<DirectoryEntry> entries;
        try { entries = HostRoot.Live.List(proc); }
        catch (KvmHostException) { return found; }
        foreach (var entry in entries)
        {
            string directory = entry.Path;
            if (entry.Kind != FileKind.Directory || !entry.Name.All(char.IsAsciiDigit)) continue;
            Guid? uuid = UuidOf(ReadOrNull(Path.Combine(directory, "cmdline")));
            if (uuid is not { } id || !wanted.Contains(id)) continue;
            if (StartTicks(ReadOrNull(Path.Combine(directory, "stat"))) is { } ticks)
                found[id] = boot.Value.AddSeconds((double)ticks / ticksPerSecond);
            if (found.Count == wanted.Count) break;
        }
        return found;
    }

    /// <summary>The value after "-uuid" in a NUL-separated command line.</summary>
    internal static Guid? UuidOf(byte[]? cmdline)
    {
        if (cmdline is null) return null;
        int at = cmdline.AsSpan().IndexOf(UuidOption);
        if (at < 0 || (at > 0 && cmdline[at - 1] != 0)) return null;
        ReadOnlySpan<byte> rest = cmdline.AsSpan(at + UuidOption.Length);
        int end = rest.IndexOf((byte)0);
        return Guid.TryParse(Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]), out Guid uuid) ? uuid : null;
    }

    /// <summary>Field 22 (starttime, in clock ticks since boot) of /proc/PID/stat; the command name before it may hold spaces and ')'.</summary>
    internal static long? StartTicks(byte[]? stat)
    {
        if (stat is null) return null;
        string text = Encoding.ASCII.GetString(stat);
        int close = text.LastIndexOf(')');
        if (close < 0) return null;
        string[] fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (state), so field 22 is fields[19]
        return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks) ? ticks : null;
    }

    private static DateTime? BootTime(string proc)
    {
        string? text = ReadOrNull(Path.Combine(proc, "stat")) is { } bytes ? Encoding.ASCII.GetString(bytes) : null;
        string? line = text?.Split('\n').FirstOrDefault(l => l.StartsWith("btime ", StringComparison.Ordinal));
        return line is not null && long.TryParse(line[6..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
            ? DateTime.UnixEpoch.AddSeconds(seconds) : null;
    }

    // Processes come and go while we read, and other users' may be unreadable: either is "no answer".
    private static byte[]? ReadOrNull(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
