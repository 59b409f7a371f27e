using System.Globalization;
using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>
/// Which QEMU process runs each guest, and when it started: libvirt has no call for a guest's uptime, but QEMU
/// runs with "-uuid UUID" on its command line, and /proc/PID/stat has the start time; /proc/PID/root is the way
/// into the files as QEMU (and the daemon) see them (see <see cref="DaemonFiles"/>). Only meaningful for a
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
        foreach (var (directory, _, id) in Find(wanted, proc))
            if (StartTicks(ReadOrNull(Path.Combine(directory, "stat"))) is { } ticks)
                found[id] = boot.Value.AddSeconds((double)ticks / ticksPerSecond);
        return found;
    }

    /// <summary>The process ids of the wanted guests' QEMU processes (as this machine's /proc numbers them).</summary>
    public static Dictionary<Guid, int> ProcessIds(IReadOnlySet<Guid> wanted, string proc = "/proc") =>
        Find(wanted, proc).ToDictionary(p => p.Uuid, p => p.Pid);

    /// <summary>Each wanted guest's QEMU process: its /proc folder, pid and UUID; stops once all are found.</summary>
    private static IEnumerable<(string Directory, int Pid, Guid Uuid)> Find(IReadOnlySet<Guid> wanted, string proc)
    {
        if (wanted.Count == 0) yield break;
        IReadOnlyList<DirectoryEntry> entries;
        try { entries = HostRoot.Live.List(proc); }
        catch (KvmHostException) { yield break; }
        var seen = new HashSet<Guid>();
        foreach (var entry in entries)
        {
            if (entry.Kind != FileKind.Directory || !int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            Guid? uuid = UuidOf(ReadOrNull(Path.Combine(entry.Path, "cmdline")));
            if (uuid is not { } id || !wanted.Contains(id) || !seen.Add(id)) continue;
            yield return (entry.Path, pid, id);
            if (seen.Count == wanted.Count) yield break;
        }
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
