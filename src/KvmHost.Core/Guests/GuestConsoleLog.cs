using System.Text;
using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>
/// What a guest printed on its serial console, from the file its definition logs it to: the &lt;log file&gt; of
/// its serial port or console (written by virtlogd, kept across restarts with append='on'), or the file a
/// type='file' port writes. Read where the daemon keeps it (see <see cref="DaemonFiles"/>), so only for a daemon on
/// this machine. Lines come back as text for scripts: terminal escape sequences and control characters removed.
/// </summary>
public static partial class GuestConsoleLog
{
    /// <summary>How much of the end of the file is read first for -Tail; doubled until it holds enough lines.</summary>
    private const int TailChunk = 64 * 1024;

    public static IReadOnlyList<string> Read(GuestEntry guest, int? tail)
    {
        var connection = guest.Connection;
        var facts = GuestDeviceFacts.Parse(connection.GetXml(guest.Handle));
        string path = facts.SerialLogFile ?? throw NotConfigured(guest.Name, facts.Serials.Count > 0);
        if (DaemonFiles.Locate(guest, path) is not { } local)
            throw new KvmHostException(ErrorIds.ConsoleLogNotLocal, FailureKind.InvalidOperation,
                $"Guest '{guest.Name}''s console log ({path}) is on the host of {connection.Uri}, not on this machine.", guest.Name,
                "Read it on that host: Invoke-Command -HostName <host> { Get-KvmGuestConsoleLog <guest> } (KvmHost installed there).");
        connection.Note($"console log of {guest.Name}: {path}{(local == path ? string.Empty : $" (through {local})")}");
        try
        {
            using var file = DaemonFiles.OpenRead(local);
            return tail is { } count ? Tail(file, count) : Lines(ReadAll(file), complete: true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            connection.Note($"console log of {guest.Name}: {path} is not there yet (nothing was logged since it was configured).");
            return [];
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KvmHostException(ErrorIds.FileUnreadable, FailureKind.PermissionDenied,
                $"Guest '{guest.Name}''s console log {path} cannot be read: {e.Message}", path,
                "virtlogd writes it for root only (mode 0600): run as root.", e);
        }
    }

    private static KvmHostException NotConfigured(string guest, bool hasSerial) =>
        new(ErrorIds.ConsoleLogNotConfigured, FailureKind.ObjectNotFound,
            hasSerial
                ? $"Guest '{guest}''s serial console is not logged to a file, so there is nothing to read."
                : $"Guest '{guest}' has no serial console, so there is nothing to read.",
            guest,
            "Add a log to its serial port while it is off: <serial type='pty'><log file='/var/log/libvirt/qemu/GUEST-serial.log' append='on'/>"
            + "<target port='0'/></serial> (virt-install --serial pty,log.file=...,log.append=on; New-KvmGuest does it by default).");

    private static byte[] ReadAll(Stream file)
    {
        using var copy = new MemoryStream();
        file.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The last <paramref name="count"/> lines, reading only as much of the end of the file as they need.</summary>
    internal static IReadOnlyList<string> Tail(Stream file, int count)
    {
        if (count <= 0) return [];
        long length = file.Length;
        for (long chunk = TailChunk; ; chunk *= 2)
        {
            long start = Math.Max(0, length - chunk);
            byte[] bytes = new byte[length - start];
            file.Position = start;
            file.ReadExactly(bytes);
            // A newline ends every line but maybe the last, so count + 1 of them mean count whole lines are in.
            if (start == 0 || bytes.AsSpan().Count((byte)'\n') > count)
            {
                var lines = Lines(bytes, complete: start == 0);
                return lines.Count > count ? lines.Skip(lines.Count - count).ToList() : lines;
            }
        }
    }

    /// <summary>Text lines; <paramref name="complete"/> false drops the first, cut, line. A last line without a newline (a prompt) counts.</summary>
    internal static List<string> Lines(byte[] bytes, bool complete)
    {
        var lines = Encoding.UTF8.GetString(bytes).Split('\n').Select(Clean).ToList();
        if (!complete && lines.Count > 0) lines.RemoveAt(0);
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    /// <summary>A line as text: escape sequences (colours, cursor moves, a shell's cursor queries) and control characters removed.</summary>
    internal static string Clean(string line) => ControlCharacters().Replace(EscapeSequences().Replace(line, string.Empty), string.Empty);

    // CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), and two-byte escapes (ESC and one character).
    [GeneratedRegex(@"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")]
    private static partial Regex EscapeSequences();

    [GeneratedRegex(@"[\x00-\x08\x0a-\x1f\x7f]")]
    private static partial Regex ControlCharacters();
}
