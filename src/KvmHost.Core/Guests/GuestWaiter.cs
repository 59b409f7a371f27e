using System.Diagnostics;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

public enum GuestWaitCondition { Running, ShutOff, IPAddress }

/// <summary>One line of progress for a wait; the cmdlet turns it into Write-Progress.</summary>
public sealed record GuestWaitProgress(string Activity, string Status, int PercentComplete, int SecondsRemaining);

/// <summary>How one guest's wait ended.</summary>
public sealed record GuestWaitOutcome(GuestEntry Guest, bool Reached, string LastState, KvmHostException? Failure = null);

/// <summary>
/// Waits for several guests at once by polling their state (virDomainGetState: one small call per guest
/// still pending), so twenty guests shutting down take as long as the slowest, not the sum. Stops at the
/// deadline or on cancellation (Ctrl+C) between two polls; guests are never changed here.
/// </summary>
public static class GuestWaiter
{
    private static readonly TimeSpan FastPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan SlowPoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan AddressPoll = TimeSpan.FromMilliseconds(500);

    public static IReadOnlyList<GuestWaitOutcome> Wait(IReadOnlyList<GuestEntry> guests, GuestWaitCondition condition, TimeSpan timeout,
        string activity, Action<GuestWaitProgress>? progress, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var outcomes = new Dictionary<GuestEntry, GuestWaitOutcome>();
        var pending = guests.Distinct().ToList();
        while (true)
        {
            foreach (var guest in pending.ToList())
            {
                cancellation.ThrowIfCancellationRequested();
                var (reached, state, failure) = Check(guest, condition);
                if (reached || failure is not null)
                {
                    outcomes[guest] = new GuestWaitOutcome(guest, reached, state, failure);
                    pending.Remove(guest);
                }
                else
                {
                    outcomes[guest] = new GuestWaitOutcome(guest, false, state);
                }
            }
            TimeSpan left = timeout - clock.Elapsed;
            if (pending.Count == 0 || left <= TimeSpan.Zero) break;
            progress?.Invoke(new GuestWaitProgress(activity,
                $"{guests.Count - pending.Count} of {guests.Count} done; waiting for {string.Join(", ", pending.Take(5).Select(g => $"{g.Name} ({outcomes[g].LastState})"))}{(pending.Count > 5 ? ", ..." : string.Empty)}",
                (int)Math.Min(99, 100 * clock.Elapsed.TotalSeconds / Math.Max(timeout.TotalSeconds, 0.001)), (int)Math.Ceiling(left.TotalSeconds)));
            TimeSpan pause = condition == GuestWaitCondition.IPAddress ? AddressPoll : clock.Elapsed < TimeSpan.FromSeconds(2) ? FastPoll : SlowPoll;
            if (cancellation.WaitHandle.WaitOne(pause < left ? pause : left)) cancellation.ThrowIfCancellationRequested();
        }
        return guests.Distinct().Select(g => outcomes[g]).ToList();
    }

    private static (bool Reached, string State, KvmHostException? Failure) Check(GuestEntry guest, GuestWaitCondition condition)
    {
        try
        {
            var (state, reason) = guest.Connection.GetState(guest.Handle);
            string shown = $"{state}, {GuestStateReasons.Describe(state, reason)}";
            return condition switch
            {
                GuestWaitCondition.ShutOff => (state == GuestState.ShutOff, shown, null),
                GuestWaitCondition.Running => (state is GuestState.Running or GuestState.Blocked, shown,
                    // a guest that was started and died again will not get there by waiting
                    state is GuestState.Crashed ? FailedToRun(guest, shown) : null),
                _ => GuestStateReasons.IsActive(state) && HasAddress(guest) ? (true, shown, null) : (false, shown, null),
            };
        }
        catch (KvmHostException gone) when (gone.ErrorId == ErrorIds.GuestNotFound)
        {
            // A transient guest ceases to exist when it shuts off.
            return condition == GuestWaitCondition.ShutOff ? (true, "gone", null) : (false, "gone", gone);
        }
    }

    private static bool HasAddress(GuestEntry guest)
    {
        var xml = DomainXml.Parse(guest.Connection.GetXml(guest.Handle));
        return GuestReader.Addresses(guest.Connection, guest, xml).Values.Any(list => list.Count > 0);
    }

    private static KvmHostException FailedToRun(GuestEntry guest, string state) =>
        new(ErrorIds.GuestStartFailed, FailureKind.InvalidOperation, $"Guest '{guest.Name}' crashed ({state}) instead of running.", guest.Name,
            "Read the guest's log (/var/log/libvirt/qemu/NAME.log on its host) and its serial console.");
}
