using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>How a console session ended.</summary>
public enum ConsoleEnd
{
    /// <summary>The escape key (Ctrl+]) was pressed.</summary>
    Detached,

    /// <summary>The guest's side closed: it was shut down or destroyed, or another session took the console over.</summary>
    GuestClosed,

    /// <summary>The terminal went away (hung up).</summary>
    InputClosed,

    /// <summary>The pipeline was stopped.</summary>
    Cancelled,
}

/// <summary>The guest's side of a console session; the tests give it a scripted one.</summary>
internal interface IConsoleChannel
{
    /// <summary>Bytes received; 0 when the guest's side has ended; -2 when nothing has arrived yet.</summary>
    int Receive(Span<byte> buffer);

    /// <summary>Bytes sent; -2 when the channel cannot take more yet.</summary>
    int Send(ReadOnlySpan<byte> data);
}

/// <summary>
/// An open serial console of a running guest (virsh console): a libvirt stream to the guest's first serial port,
/// pumped to and from this process's terminal in raw mode until the escape key (Ctrl+], as in virsh), the guest's
/// end, the terminal's end, or Ctrl+C from outside (StopProcessing). Disposing it ends the stream.
/// </summary>
public sealed class GuestConsoleSession : IDisposable, IConsoleChannel
{
    /// <summary>Ctrl+] (GS, 0x1d): virsh's escape character, which no shell or editor binds.</summary>
    public const byte EscapeByte = 0x1d;

    public const string EscapeKeyName = "^] (Ctrl + ])";

    private readonly GuestEntry _guest;
    private readonly StreamHandle _stream;

    private GuestConsoleSession(GuestEntry guest, StreamHandle stream)
    {
        _guest = guest;
        _stream = stream;
    }

    /// <summary>Call once before connecting to the guest's libvirt: the stream needs libvirt's event loop (see LibvirtConnection.Console).</summary>
    public static void PrepareProcess() => LibvirtConnection.StartEventLoop();

    /// <summary>
    /// Opens the console of a running guest. Throws ConsoleNotAvailable for a guest without a serial console,
    /// GuestStateInvalid for one that is not running, ConsoleBusy when another client holds it (unless <paramref name="force"/>).
    /// </summary>
    public static GuestConsoleSession Open(GuestEntry guest, bool force)
    {
        var connection = guest.Connection;
        var facts = GuestDeviceFacts.Parse(connection.GetXml(guest.Handle));
        if (!facts.HasConsole)
            throw new KvmHostException(ErrorIds.ConsoleNotAvailable, FailureKind.ObjectNotFound,
                $"Guest '{guest.Name}' has no serial console to connect to (no <serial> or <console> of type pty in its definition).", guest.Name,
                "Give it one while it is off: <serial type='pty'><target port='0'/></serial> and <console type='pty'><target type='serial' port='0'/></console> "
                + "in its <devices> (virt-install --serial pty does it), and boot its kernel with console=ttyS0.");
        var (state, reason) = connection.GetState(guest.Handle);
        if (!GuestStateReasons.IsActive(state))
            throw new KvmHostException(ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation,
                $"Guest '{guest.Name}' is {state} ({GuestStateReasons.Describe(state, reason)}): a console is there only while it runs.", guest.Name,
                "Start-KvmGuest starts it; Get-KvmGuestConsoleLog shows what it printed last time.");
        connection.SetKeepAlive(5, 6);
        return new GuestConsoleSession(guest, connection.OpenConsole(guest.Handle, force));
    }

    public string GuestName => _guest.Name;

    /// <summary>What libvirt said when it broke the stream off (another client took the console over); null otherwise.</summary>
    public string? EndedBecause { get; private set; }

    /// <summary>Runs the session on the terminal in raw mode (restored however it ends) and says how it ended.</summary>
    public ConsoleEnd Run(Terminal terminal, CancellationToken cancellation)
    {
        using (Terminal.EnterRawMode())
            return ConsolePump.Run(this, terminal, EscapeByte, cancellation);
    }

    int IConsoleChannel.Receive(Span<byte> buffer)
    {
        int received = _guest.Connection.ReceiveFromStream(_stream, buffer, _guest.Name, out string? endedBecause);
        EndedBecause ??= endedBecause;
        return received;
    }

    int IConsoleChannel.Send(ReadOnlySpan<byte> data) => _guest.Connection.SendToStream(_stream, data, _guest.Name);

    public void Dispose()
    {
        if (_stream.IsClosed) return;
        LibvirtConnection.AbortStream(_stream);
        _stream.Dispose();
    }
}

/// <summary>
/// Moves bytes between a terminal and a guest until the escape byte, the end of either side, or cancellation.
/// One thread: it drains what the guest sent (a non-blocking stream that libvirt's event loop fills), then waits
/// up to a tick for keys, so output shows within a tick and an idle session costs a few wakeups a second.
/// </summary>
internal static class ConsolePump
{
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan SendRetry = TimeSpan.FromMilliseconds(5);

    public static ConsoleEnd Run(IConsoleChannel guest, ITerminalIo terminal, byte escape, CancellationToken cancellation)
    {
        byte[] buffer = new byte[4096];
        while (true)
        {
            while (true)
            {
                if (cancellation.IsCancellationRequested) return ConsoleEnd.Cancelled;
                int received = guest.Receive(buffer);
                if (received == -2) break;
                if (received == 0) return ConsoleEnd.GuestClosed;
                terminal.Write(buffer.AsSpan(0, received));
            }
            if (!terminal.WaitForInput(Tick)) continue;
            int read = terminal.Read(buffer);
            if (read == 0) return ConsoleEnd.InputClosed;
            if (read < 0) continue;
            // The escape key ends the session wherever it is in what was read (a paste, keys typed fast); what came
            // before it still goes to the guest, what came after does not.
            int at = buffer.AsSpan(0, read).IndexOf(escape);
            if (!SendAll(guest, buffer.AsSpan(0, at >= 0 ? at : read), cancellation)) return ConsoleEnd.Cancelled;
            if (at >= 0) return ConsoleEnd.Detached;
        }
    }

    private static bool SendAll(IConsoleChannel guest, ReadOnlySpan<byte> data, CancellationToken cancellation)
    {
        while (!data.IsEmpty)
        {
            int sent = guest.Send(data);
            if (sent == -2)
            {
                if (cancellation.WaitHandle.WaitOne(SendRetry)) return false;
                continue;
            }
            data = data[sent..];
        }
        return true;
    }
}
