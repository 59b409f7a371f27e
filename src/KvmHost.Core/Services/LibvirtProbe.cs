using System.Buffers.Binary;
using System.Net.Sockets;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>What one reachability probe found.</summary>
internal sealed record ProbeResult(bool Reachable, string Endpoint, string Detail, TimeSpan Elapsed);

/// <summary>
/// Asks the daemon itself, over its read-only UNIX socket, for the authentication methods it offers
/// (REMOTE_PROC_AUTH_LIST, the first call every libvirt client makes, allowed before any login).
/// With socket activation systemd holds the socket and accepts connections while the daemon is not
/// running, or failing to start, so a successful connect proves nothing; only a reply in libvirt's RPC
/// framing does. No virsh is needed, and the same probe works for libvirtd and virtqemud.
/// </summary>
internal static class LibvirtProbe
{
    private const uint RemoteProgram = 0x20008086;
    private const uint RemoteProtocolVersion = 1;
    private const int ProcAuthList = 66;
    private const int TypeCall = 0;
    private const int TypeReply = 1;
    private const int HeaderLength = 4 + 24;

    /// <param name="waitForSocket">Retry while the socket is missing or refuses (a daemon still starting); else answer at once.</param>
    public static ProbeResult Probe(HostRoot root, string socketPathInRoot, TimeSpan timeout, bool waitForSocket, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string hostPath = root.Resolve(socketPathInRoot);
        string lastProblem = "no attempt was made";
        // A socket that is not there yet (a daemon still starting without socket activation) is retried.
        while (true)
        {
            if (!Path.Exists(hostPath))
            {
                lastProblem = $"{socketPathInRoot} does not exist";
            }
            else try
            {
                string detail = AskAuthList(hostPath, deadline.Token);
                return new ProbeResult(true, socketPathInRoot, detail, clock.Elapsed);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new ProbeResult(false, socketPathInRoot,
                    $"no answer within {timeout.TotalSeconds:0.#} s ({lastProblem})", clock.Elapsed);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused)
            {
                lastProblem = $"{socketPathInRoot}: {e.Message}";
            }
            catch (Exception e) when (e is SocketException or IOException or InvalidDataException)
            {
                return new ProbeResult(false, socketPathInRoot, $"{socketPathInRoot}: {e.Message}", clock.Elapsed);
            }
            if (!waitForSocket) return new ProbeResult(false, socketPathInRoot, lastProblem, clock.Elapsed);
            if (deadline.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                return new ProbeResult(false, socketPathInRoot, $"no answer within {timeout.TotalSeconds:0.#} s ({lastProblem})", clock.Elapsed);
            }
        }
    }

    private static string AskAuthList(string hostPath, CancellationToken token)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.ConnectAsync(new UnixDomainSocketEndPoint(hostPath), token).AsTask().GetAwaiter().GetResult();

        var call = new byte[HeaderLength];
        BinaryPrimitives.WriteUInt32BigEndian(call.AsSpan(0), HeaderLength);
        BinaryPrimitives.WriteUInt32BigEndian(call.AsSpan(4), RemoteProgram);
        BinaryPrimitives.WriteUInt32BigEndian(call.AsSpan(8), RemoteProtocolVersion);
        BinaryPrimitives.WriteInt32BigEndian(call.AsSpan(12), ProcAuthList);
        BinaryPrimitives.WriteInt32BigEndian(call.AsSpan(16), TypeCall);
        BinaryPrimitives.WriteUInt32BigEndian(call.AsSpan(20), 1); // serial
        BinaryPrimitives.WriteInt32BigEndian(call.AsSpan(24), 0);  // status OK
        socket.SendAsync(call, SocketFlags.None, token).AsTask().GetAwaiter().GetResult();

        var reply = new byte[HeaderLength];
        int read = 0;
        while (read < reply.Length)
        {
            int n = socket.ReceiveAsync(reply.AsMemory(read), SocketFlags.None, token).AsTask().GetAwaiter().GetResult();
            if (n == 0)
                throw new IOException("the connection was closed without a reply (the daemon behind the socket did not start; see its journal)");
            read += n;
        }
        uint program = BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4));
        int procedure = BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(12));
        int type = BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(16));
        if (program != RemoteProgram || procedure != ProcAuthList || type != TypeReply)
            throw new InvalidDataException($"something answered that is not libvirt (program 0x{program:x8}, procedure {procedure}, type {type})");
        int status = BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(24));
        return status == 0 ? "libvirt answered (authentication list)" : "libvirt answered (with an error reply)";
    }
}
