using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>
/// The console's stream and libvirt's event loop. A stream's data arrives on the connection's socket; libvirt's
/// client reads the socket only while some thread is inside a call, or when an event loop watches it. The console
/// uses a non-blocking stream (as virsh console does) and so needs the event loop: libvirt's default one, run by a
/// background thread of its own for the rest of the process. A blocking stream on a thread of its own would need no
/// loop, but a blocked virStreamRecv cannot be interrupted, and detaching with the escape key must be immediate.
/// </summary>
public sealed unsafe partial class LibvirtConnection
{
    private const int ConsoleSessionActive = LibvirtErrors.OperationFailed;
    private static readonly object EventLoopGate = new();
    private static Thread? _eventLoop;

    /// <summary>
    /// Registers libvirt's default event loop and starts its thread, once per process. Only connections opened
    /// afterwards are watched by it (libvirt's remote driver registers its socket when it connects), so the console
    /// calls this before it connects. The loop serves every later connection of the process too, as virsh's does;
    /// nothing else changes for them.
    /// </summary>
    internal static void StartEventLoop()
    {
        EnsureLoaded();
        lock (EventLoopGate)
        {
            if (_eventLoop is not null) return;
            if (virEventRegisterDefaultImpl() < 0)
                throw LibvirtErrors.ForCall(TakeLastError(), "(no connection)", "virEventRegisterDefaultImpl", null);
            _eventLoop = new Thread(RunEventLoop) { IsBackground = true, Name = "libvirt event loop" };
            _eventLoop.Start();
        }
    }

    private static void RunEventLoop()
    {
        while (true)
        {
            // An iteration only fails on a broken poll(); libvirt has reported it, and the next one tries again.
            if (virEventRunDefaultImpl() < 0)
            {
                TakeLastError();
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>
    /// Asks the daemon for keepalive messages (every <paramref name="intervalSeconds"/>, giving up after
    /// <paramref name="count"/> unanswered), as virsh does, so a daemon or network that dies ends a console session
    /// instead of leaving it waiting forever. Needs the event loop; a daemon that cannot is only logged.
    /// </summary>
    internal void SetKeepAlive(int intervalSeconds, uint count)
    {
        if (virConnectSetKeepAlive(_handle, intervalSeconds, count) < 0)
            Log($"libvirt: no keepalive on {Uri}: {TakeLastError().Message}");
    }

    /// <summary>
    /// Opens the guest's first console (its serial port) on a new non-blocking stream. An active session of another
    /// client is ConsoleBusy unless <paramref name="force"/> takes it over (virsh console --force).
    /// </summary>
    internal StreamHandle OpenConsole(DomainHandle domain, bool force)
    {
        RequireWritable(); // libvirt gives a console only to a read-write connection
        string guest = NameOf(domain);
        IntPtr pointer = virStreamNew(_handle, StreamNonBlock);
        if (pointer == IntPtr.Zero) throw Failure("virStreamNew", guest);
        var stream = new StreamHandle(pointer);
        Log($"libvirt: virDomainOpenConsole {guest}{(force ? " (force: take over another session)" : string.Empty)} on {Uri}");
        if (virDomainOpenConsole(domain, null, stream, force ? ConsoleForce : 0) >= 0) return stream;
        LibvirtError error = TakeLastError();
        stream.Dispose();
        throw error.Code == ConsoleSessionActive
            ? new KvmHostException(ErrorIds.ConsoleBusy, FailureKind.ResourceBusy,
                $"Another client holds guest '{guest}''s console: {error.Message}", guest,
                "Connect-KvmGuest -Force takes the console over (the other session ends), as virsh console --force does.")
            : Failure(error, "virDomainOpenConsole", guest, domain);
    }

    /// <summary>
    /// Bytes read into <paramref name="buffer"/>; 0 at the end of the stream; -2 when nothing has arrived yet. A stream
    /// the daemon broke off while the connection still works (another client took the console over with force, the
    /// guest's pty went away) has ended too: 0, and <paramref name="endedBecause"/> says what libvirt said. A broken
    /// connection is a failure.
    /// </summary>
    internal int ReceiveFromStream(StreamHandle stream, Span<byte> buffer, string guest, out string? endedBecause)
    {
        endedBecause = null;
        int read;
        fixed (byte* data = buffer) read = virStreamRecv(stream, data, (nuint)buffer.Length);
        if (read >= 0 || read == -2) return read;
        LibvirtError error = TakeLastError();
        if (virConnectIsAlive(_handle) != 1) throw LibvirtErrors.ForCall(error, Uri, "virStreamRecv", guest);
        Log($"libvirt: the console stream of {guest} ended: {error.Message}");
        endedBecause = error.Message;
        return 0;
    }

    /// <summary>Bytes sent; -2 when the stream cannot take more yet.</summary>
    internal int SendToStream(StreamHandle stream, ReadOnlySpan<byte> buffer, string guest)
    {
        int sent;
        fixed (byte* data = buffer) sent = virStreamSend(stream, data, (nuint)buffer.Length);
        return sent >= 0 || sent == -2 ? sent : throw Failure("virStreamSend", guest);
    }

    /// <summary>Ends a stream from this side; a stream that has already ended is no error.</summary>
    internal static void AbortStream(StreamHandle stream)
    {
        if (virStreamAbort(stream) < 0) TakeLastError();
    }
}
