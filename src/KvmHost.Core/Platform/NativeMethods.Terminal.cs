using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>
/// The terminal calls the serial console needs (see <see cref="Terminal"/>): whether a descriptor is a terminal,
/// its settings (struct termios, passed as an opaque buffer that cfmakeraw changes, so no field layout is assumed),
/// and waiting for and reading the keyboard without .NET's line editing.
/// </summary>
internal static unsafe partial class NativeMethods
{
    /// <summary>Larger than struct termios on every Linux architecture (60 bytes with glibc and musl).</summary>
    internal const int TermiosBytes = 256;
    internal const int TcsaFlush = 2;  // TCSAFLUSH: apply once output is written, dropping unread input
    internal const short PollIn = 0x1, PollError = 0x8, PollHangUp = 0x10, PollInvalid = 0x20;
    internal const int Interrupted = 4; // EINTR

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "isatty")]
    internal static partial int IsTerminal(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    internal static partial int GetTerminalAttributes(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    internal static partial int SetTerminalAttributes(int fd, int when, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    internal static partial void MakeRaw(byte* termios);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);
}
