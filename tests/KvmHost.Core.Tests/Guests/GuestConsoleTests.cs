using System.Text;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// The console's pump with a scripted guest and terminal (the real ones are driven under tmux in
/// Guest-Console.Tests.ps1), and the console log's text.
/// </summary>
public class GuestConsoleTests
{
    private sealed class ScriptedGuest : IConsoleChannel
    {
        public Queue<byte[]?> Output { get; } = new(); // null: the guest's side ends
        public List<byte> Received { get; } = [];
        public int Refusals { get; set; }

        public int Receive(Span<byte> buffer)
        {
            if (!Output.TryDequeue(out byte[]? next)) return -2;
            if (next is null) return 0;
            next.CopyTo(buffer);
            return next.Length;
        }

        public int Send(ReadOnlySpan<byte> data)
        {
            if (Refusals > 0) { Refusals--; return -2; }
            int taken = Math.Min(data.Length, 3); // takes a few bytes at a time, as a busy stream may
            Received.AddRange(data[..taken].ToArray());
            return taken;
        }
    }

    private sealed class ScriptedTerminal : ITerminalIo
    {
        public Queue<byte[]> Keys { get; } = new(); // an empty array: the terminal hung up
        public List<byte> Screen { get; } = [];
        public Action? OnIdle { get; set; }

        public bool WaitForInput(TimeSpan timeout)
        {
            if (Keys.Count > 0) return true;
            OnIdle?.Invoke();
            return false;
        }

        public int Read(Span<byte> buffer)
        {
            byte[] next = Keys.Dequeue();
            next.CopyTo(buffer);
            return next.Length;
        }

        public void Write(ReadOnlySpan<byte> data) => Screen.AddRange(data.ToArray());
    }

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    [Fact]
    public void Shows_the_guests_output_sends_the_keys_and_detaches_at_the_escape_key_without_sending_what_follows()
    {
        var guest = new ScriptedGuest { Refusals = 2 };
        guest.Output.Enqueue(Bytes("tiny# "));
        var terminal = new ScriptedTerminal();
        terminal.Keys.Enqueue(Bytes("echo hi\r"));
        terminal.Keys.Enqueue([.. Bytes("ls"), GuestConsoleSession.EscapeByte, .. Bytes("rm -rf /\r")]);

        var end = ConsolePump.Run(guest, terminal, GuestConsoleSession.EscapeByte, CancellationToken.None);

        Assert.Equal(ConsoleEnd.Detached, end);
        Assert.Equal("tiny# ", Encoding.ASCII.GetString([.. terminal.Screen]));
        Assert.Equal("echo hi\rls", Encoding.ASCII.GetString([.. guest.Received]));
    }

    [Fact]
    public void Ends_when_the_guest_closes_after_showing_what_it_sent_last()
    {
        var guest = new ScriptedGuest();
        guest.Output.Enqueue(Bytes("reboot: Power down\r\n"));
        guest.Output.Enqueue(null);

        Assert.Equal(ConsoleEnd.GuestClosed, ConsolePump.Run(guest, new ScriptedTerminal(), GuestConsoleSession.EscapeByte, CancellationToken.None));
    }

    [Fact]
    public void Ends_when_the_terminal_hangs_up_or_the_pipeline_is_stopped()
    {
        var hungUp = new ScriptedTerminal();
        hungUp.Keys.Enqueue([]);
        Assert.Equal(ConsoleEnd.InputClosed, ConsolePump.Run(new ScriptedGuest(), hungUp, GuestConsoleSession.EscapeByte, CancellationToken.None));

        using var stop = new CancellationTokenSource();
        var idle = new ScriptedTerminal { OnIdle = stop.Cancel };
        Assert.Equal(ConsoleEnd.Cancelled, ConsolePump.Run(new ScriptedGuest(), idle, GuestConsoleSession.EscapeByte, stop.Token));
    }

    [Fact]
    public void Log_lines_lose_escape_sequences_and_control_characters_but_keep_their_text()
    {
        byte[] log = Bytes("\u001b[0mKVMHOST-GUEST-READY web1\r\ntiny# \u001b[6nls\r\n\u001b]0;title\u0007bin\tdev\r\nlast prompt# ");
        Assert.Equal(["KVMHOST-GUEST-READY web1", "tiny# ls", "bin\tdev", "last prompt# "], GuestConsoleLog.Lines(log, complete: true));
        Assert.Equal(["tiny# ls", "bin\tdev", "last prompt# "], GuestConsoleLog.Lines(log, complete: false));
    }

    [Fact]
    public void Tail_reads_back_from_the_end_far_enough_for_the_lines_asked()
    {
        var text = new StringBuilder();
        for (int i = 1; i <= 20000; i++) text.Append("line ").Append(i).Append('\n');
        var file = new MemoryStream(Encoding.ASCII.GetBytes(text.ToString()));

        Assert.Equal(["line 19998", "line 19999", "line 20000"], GuestConsoleLog.Tail(file, 3));
        Assert.Equal(15000, GuestConsoleLog.Tail(file, 15000).Count); // more than the first 64 KiB hold
        Assert.Equal("line 5001", GuestConsoleLog.Tail(file, 15000)[0]);
        Assert.Equal(20000, GuestConsoleLog.Tail(file, 50000).Count);
        Assert.Empty(GuestConsoleLog.Tail(file, 0));
    }
}
