using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>What an interactive session needs of a terminal; the console's tests give it a scripted one.</summary>
internal interface ITerminalIo
{
    /// <summary>True when a read would not block (keys arrived, or the terminal hung up); false after the timeout.</summary>
    bool WaitForInput(TimeSpan timeout);

    /// <summary>Bytes read; 0 when the terminal is gone; -2 when a signal interrupted the read (try again).</summary>
    int Read(Span<byte> buffer);

    void Write(ReadOnlySpan<byte> data);
}

/// <summary>
/// This process's terminal (standard input and output) for an interactive session such as the serial console:
/// raw mode (every key, Ctrl+C included, goes to the session as typed, nothing is echoed twice) that is restored
/// when the session ends, whatever ends it, also SIGTERM, SIGHUP or SIGQUIT; the keyboard read as bytes, without
/// .NET's line editing; output written straight to the screen. The settings are saved and set with tcgetattr,
/// cfmakeraw and tcsetattr(TCSAFLUSH), exactly as virsh console does.
/// </summary>
public sealed unsafe class Terminal : ITerminalIo
{
    private const int InputDescriptor = 0;
    private const int OutputDescriptor = 1;
    private readonly Stream _output = Console.OpenStandardOutput();

    private Terminal() { }

    /// <summary>Standard input and output are both a terminal (not a pipe, a file, a remoting session or a CI log).</summary>
    public static bool IsInteractive => NativeMethods.IsTerminal(InputDescriptor) == 1 && NativeMethods.IsTerminal(OutputDescriptor) == 1;

    /// <summary>The terminal; throws ConsoleTerminalRequired when standard input or output is not one.</summary>
    public static Terminal Open(string purpose) => IsInteractive ? new Terminal() : throw NotATerminal(purpose);

    public static KvmHostException NotATerminal(string purpose) =>
        new(ErrorIds.ConsoleTerminalRequired, FailureKind.InvalidOperation,
            $"{purpose} needs a terminal, and this session's standard input or output is not one (a script with redirected input, "
            + "a PowerShell remoting session, a CI job).", purpose,
            "Run it in an interactive terminal (an SSH login, a local console); in scripts, Get-KvmGuestConsoleLog reads what the guest printed.");

    /// <summary>Raw mode until the returned object is disposed (or the process gets SIGTERM, SIGHUP or SIGQUIT).</summary>
    public static IDisposable EnterRawMode() => new RawMode();

    bool ITerminalIo.WaitForInput(TimeSpan timeout)
    {
        var poll = new NativeMethods.PollDescriptor { Descriptor = InputDescriptor, Events = NativeMethods.PollIn };
        int ready = NativeMethods.Poll(&poll, 1, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));
        if (ready < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == NativeMethods.Interrupted ? false : throw new IOException($"poll() on the terminal failed (errno {errno}).", errno);
        }
        return ready > 0;
    }

    int ITerminalIo.Read(Span<byte> buffer)
    {
        nint read;
        fixed (byte* data = buffer) read = NativeMethods.Read(InputDescriptor, data, (nuint)buffer.Length);
        if (read >= 0) return (int)read;
        int errno = Marshal.GetLastPInvokeError();
        return errno == NativeMethods.Interrupted ? -2 : throw new IOException($"Reading the terminal failed (errno {errno}).", errno);
    }

    void ITerminalIo.Write(ReadOnlySpan<byte> data)
    {
        _output.Write(data);
        _output.Flush();
    }

    private sealed class RawMode : IDisposable
    {
        private readonly byte[] _saved = new byte[NativeMethods.TermiosBytes];
        private readonly PosixSignalRegistration[] _signals;
        private int _restored;

        public RawMode()
        {
            byte[] raw = new byte[NativeMethods.TermiosBytes];
            fixed (byte* saved = _saved)
            fixed (byte* changed = raw)
            {
                if (NativeMethods.GetTerminalAttributes(InputDescriptor, saved) < 0) throw Failed("tcgetattr");
                _saved.CopyTo(raw, 0);
                NativeMethods.MakeRaw(changed);
                // The handlers restore the terminal and let the signal go on (the process still ends): a killed
                // session must not leave the admin's shell without echo.
                _signals = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT }
                    .Select(signal => PosixSignalRegistration.Create(signal, _ => Restore()))];
                if (NativeMethods.SetTerminalAttributes(InputDescriptor, NativeMethods.TcsaFlush, changed) < 0)
                {
                    var failure = Failed("tcsetattr");
                    Dispose();
                    throw failure;
                }
            }
        }

        private void Restore()
        {
            if (Interlocked.Exchange(ref _restored, 1) != 0) return;
            fixed (byte* saved = _saved) NativeMethods.SetTerminalAttributes(InputDescriptor, NativeMethods.TcsaFlush, saved);
        }

        public void Dispose()
        {
            Restore();
            foreach (var registration in _signals ?? []) registration.Dispose();
        }

        private static KvmHostException Failed(string call) =>
            new(ErrorIds.ConsoleTerminalRequired, FailureKind.InvalidOperation,
                $"The terminal's settings cannot be changed ({call} failed, errno {Marshal.GetLastPInvokeError()}).", "terminal",
                "Run it in an interactive terminal.");
    }
}
