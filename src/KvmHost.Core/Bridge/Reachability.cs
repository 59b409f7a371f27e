using System.Net;
using System.Net.NetworkInformation;

namespace KvmHost.Core.Bridge;

/// <summary>Does an address answer from here: the guard's definition of "the admin still gets in".</summary>
public interface IReachability
{
    bool Answers(IPAddress target, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// ICMP echo through .NET's Ping (a raw socket as root, no ping binary needed), from the network
/// namespace this process runs in. Retries until the timeout: right after a NIC moves into a
/// bridge the first echo can race the neighbour entry.
/// </summary>
public sealed class IcmpReachability : IReachability
{
    public bool Answers(IPAddress target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var ping = new Ping();
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            var left = deadline - DateTime.UtcNow;
            int wait = (int)Math.Clamp(left.TotalMilliseconds, 200, 1000);
            try
            {
                if (ping.Send(target, wait).Status == IPStatus.Success) return true;
            }
            catch (PingException) { /* no route yet, or the socket was refused: try again */ }
            if (DateTime.UtcNow + TimeSpan.FromMilliseconds(250) < deadline) cancellationToken.WaitHandle.WaitOne(250);
        }
        while (DateTime.UtcNow < deadline);
        return false;
    }
}
