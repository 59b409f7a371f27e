using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvmHost.Core.Guests;

/// <summary>
/// libvirt's streams, the console call and its default event loop (libvirt-stream.h, libvirt-event.h), for
/// Connect-KvmGuest. All exist since libvirt 0.8.6 (virDomainOpenConsole) or earlier.
/// </summary>
internal static unsafe partial class LibvirtNative
{
    internal const uint StreamNonBlock = 1u << 0;
    internal const uint ConsoleForce = 1u << 0;

    [LibraryImport(Library)]
    internal static partial int virEventRegisterDefaultImpl();

    [LibraryImport(Library)]
    internal static partial int virEventRunDefaultImpl();

    [LibraryImport(Library)]
    internal static partial int virConnectSetKeepAlive(ConnectionHandle connection, int interval, uint count);

    /// <summary>1 while the connection to the daemon works, 0 once it is broken, -1 on an error.</summary>
    [LibraryImport(Library)]
    internal static partial int virConnectIsAlive(ConnectionHandle connection);

    [LibraryImport(Library)]
    internal static partial IntPtr virStreamNew(ConnectionHandle connection, uint flags);

    /// <summary>dev_name NULL: the guest's first console (or serial port).</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainOpenConsole(DomainHandle domain, string? deviceName, StreamHandle stream, uint flags);

    /// <summary>Bytes read, 0 at the end of the stream, -1 on an error, -2 when a non-blocking stream has nothing yet.</summary>
    [LibraryImport(Library)]
    internal static partial int virStreamRecv(StreamHandle stream, byte* data, nuint length);

    /// <summary>Bytes sent, -1 on an error, -2 when a non-blocking stream cannot take more yet.</summary>
    [LibraryImport(Library)]
    internal static partial int virStreamSend(StreamHandle stream, byte* data, nuint length);

    [LibraryImport(Library)]
    internal static partial int virStreamAbort(StreamHandle stream);

    [LibraryImport(Library)]
    internal static partial int virStreamFree(IntPtr stream);

    /// <summary>virStreamPtr: freed exactly once.</summary>
    internal sealed class StreamHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public StreamHandle() : base(ownsHandle: true) { }

        internal StreamHandle(IntPtr pointer) : base(ownsHandle: true) => SetHandle(pointer);

        protected override bool ReleaseHandle() => virStreamFree(handle) == 0;
    }
}
