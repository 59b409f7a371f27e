using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>
/// rtnetlink: the kernel's own answer to "ip address show" and "ip route show", read from a socket in this process's
/// network namespace (.NET's Socket class has no AF_NETLINK). One dump request, then the messages until NLMSG_DONE.
/// </summary>
internal static partial class NativeMethods
{
    private const int AfNetlink = 16;
    private const int SockRawCloexec = 3 | 0x80000; // SOCK_RAW | SOCK_CLOEXEC
    private const int NetlinkRoute = 0;
    private const ushort NlmFRequestDump = 0x1 | 0x300; // NLM_F_REQUEST | NLM_F_DUMP
    private const ushort NlmsgError = 2, NlmsgDone = 3;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static unsafe partial nint SendTo(int fd, byte* buffer, nuint length, int flags, byte* address, uint addressLength);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Receive(int fd, byte* buffer, nuint length, int flags);

    /// <summary>
    /// Sends one dump request (<paramref name="type"/> with its family header) and returns every reply message's payload
    /// (the bytes after the 16-byte nlmsghdr), in order. Throws <see cref="IOException"/> with the errno when the socket
    /// cannot be made or the kernel answers with an error.
    /// </summary>
    internal static unsafe List<(ushort Type, byte[] Payload)> NetlinkDump(ushort type, ReadOnlySpan<byte> familyHeader)
    {
        int fd = Socket(AfNetlink, SockRawCloexec, NetlinkRoute);
        if (fd < 0) throw new IOException($"socket(AF_NETLINK): {Marshal.GetLastPInvokeErrorMessage()}", Marshal.GetLastPInvokeError());
        try
        {
            const uint sequence = 1;
            var request = new byte[16 + ((familyHeader.Length + 3) & ~3)];
            BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)request.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(4), type);
            BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(6), NlmFRequestDump);
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(8), sequence);
            familyHeader.CopyTo(request.AsSpan(16));
            Span<byte> kernel = stackalloc byte[12]; // sockaddr_nl: AF_NETLINK, pid 0 (the kernel), no groups
            kernel.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(kernel, AfNetlink);
            fixed (byte* data = request)
            fixed (byte* address = kernel)
            {
                if (SendTo(fd, data, (nuint)request.Length, 0, address, (uint)kernel.Length) < 0)
                    throw new IOException($"sendto(netlink): {Marshal.GetLastPInvokeErrorMessage()}", Marshal.GetLastPInvokeError());
            }

            var messages = new List<(ushort, byte[])>();
            var buffer = new byte[256 * 1024];
            while (true)
            {
                nint received;
                fixed (byte* data = buffer) received = Receive(fd, data, (nuint)buffer.Length, 0);
                if (received < 0)
                {
                    if (Marshal.GetLastPInvokeError() == 4) continue; // EINTR
                    throw new IOException($"recv(netlink): {Marshal.GetLastPInvokeErrorMessage()}", Marshal.GetLastPInvokeError());
                }
                int offset = 0;
                while (offset + 16 <= received)
                {
                    int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset));
                    ushort messageType = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 4));
                    if (length < 16 || offset + length > received) throw new IOException("netlink: a truncated message");
                    if (messageType == NlmsgDone) return messages;
                    if (messageType == NlmsgError)
                    {
                        int error = -BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset + 16));
                        if (error == 0) return messages;
                        throw new IOException($"netlink dump {type}: error {error}", error);
                    }
                    messages.Add((messageType, buffer.AsSpan(offset + 16, length - 16).ToArray()));
                    offset += (length + 3) & ~3;
                }
            }
        }
        finally
        {
            Close(fd);
        }
    }
}
