using System.Buffers.Binary;
using System.Net.Sockets;
using KvmHost.Core.Platform;
using KvmHost.Core.Services;
using Xunit;

namespace KvmHost.Core.Tests.Services;

/// <summary>The probe against UNIX sockets served in-process: a libvirt-like reply, silence, a hang-up, a stranger.</summary>
public class LibvirtProbeTests
{
    private static string SocketPath() => Path.Combine(Path.GetTempPath(), $"kvmhost-probe-{Guid.NewGuid():N}.sock");

    private static Task Serve(string path, Func<Socket, Task> onClient, out Socket listener)
    {
        var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(path));
        server.Listen();
        listener = server;
        return Task.Run(async () =>
        {
            try
            {
                using var client = await server.AcceptAsync();
                await onClient(client);
            }
            catch (ObjectDisposedException) { }
            catch (SocketException) { }
        });
    }

    private static async Task<byte[]> ReadCall(Socket client)
    {
        var call = new byte[28];
        int read = 0;
        while (read < call.Length) read += await client.ReceiveAsync(call.AsMemory(read), SocketFlags.None);
        return call;
    }

    private static byte[] Reply(byte[] call, uint program = 0x20008086, int type = 1)
    {
        var reply = new byte[36];
        BinaryPrimitives.WriteUInt32BigEndian(reply, 36);
        call.AsSpan(8, 20).CopyTo(reply.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(4), program);
        BinaryPrimitives.WriteInt32BigEndian(reply.AsSpan(16), type);
        BinaryPrimitives.WriteInt32BigEndian(reply.AsSpan(28), 1); // one auth method: none
        return reply;
    }

    [Fact]
    public async Task A_libvirt_reply_to_the_auth_list_call_is_reachable()
    {
        string path = SocketPath();
        byte[]? seen = null;
        var served = Serve(path, async c => { seen = await ReadCall(c); await c.SendAsync(Reply(seen), SocketFlags.None); }, out var listener);
        try
        {
            var result = LibvirtProbe.Probe(HostRoot.Live, path, TimeSpan.FromSeconds(5), waitForSocket: false, CancellationToken.None);
            Assert.True(result.Reachable, result.Detail);
            await served.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(0x20008086u, BinaryPrimitives.ReadUInt32BigEndian(seen!.AsSpan(4)));
            Assert.Equal(66, BinaryPrimitives.ReadInt32BigEndian(seen.AsSpan(12)));
        }
        finally { listener.Dispose(); File.Delete(path); }
    }

    [Fact]
    public void A_socket_that_accepts_but_never_answers_is_not_reachable_within_the_timeout()
    {
        // What systemd does for a socket whose service cannot start: it holds the connection.
        string path = SocketPath();
        var served = Serve(path, c => Task.Delay(5000), out var listener);
        try
        {
            var result = LibvirtProbe.Probe(HostRoot.Live, path, TimeSpan.FromMilliseconds(700), waitForSocket: true, CancellationToken.None);
            Assert.False(result.Reachable);
            Assert.Contains("no answer within", result.Detail);
            Assert.InRange(result.Elapsed.TotalSeconds, 0.5, 4);
        }
        finally { listener.Dispose(); File.Delete(path); }
    }

    [Fact]
    public void A_hang_up_without_a_reply_is_not_reachable()
    {
        string path = SocketPath();
        var served = Serve(path, async c => { await ReadCall(c); c.Shutdown(SocketShutdown.Both); }, out var listener);
        try
        {
            var result = LibvirtProbe.Probe(HostRoot.Live, path, TimeSpan.FromSeconds(5), waitForSocket: false, CancellationToken.None);
            Assert.False(result.Reachable);
            Assert.Contains("closed without a reply", result.Detail);
        }
        finally { listener.Dispose(); File.Delete(path); }
    }

    [Fact]
    public void Something_that_is_not_libvirt_is_not_reachable()
    {
        string path = SocketPath();
        var served = Serve(path, async c => { var call = await ReadCall(c); await c.SendAsync(Reply(call, program: 0x1234), SocketFlags.None); }, out var listener);
        try
        {
            var result = LibvirtProbe.Probe(HostRoot.Live, path, TimeSpan.FromSeconds(5), waitForSocket: false, CancellationToken.None);
            Assert.False(result.Reachable);
            Assert.Contains("not libvirt", result.Detail);
        }
        finally { listener.Dispose(); File.Delete(path); }
    }

    [Fact]
    public void A_missing_socket_answers_at_once_unless_asked_to_wait()
    {
        string path = SocketPath();
        var result = LibvirtProbe.Probe(HostRoot.Live, path, TimeSpan.FromSeconds(10), waitForSocket: false, CancellationToken.None);
        Assert.False(result.Reachable);
        Assert.Contains("does not exist", result.Detail);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(2));
    }
}
