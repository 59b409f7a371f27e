using System.Diagnostics;
using System.Text;
using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Uptime comes from the QEMU process whose command line carries the guest's UUID.</summary>
public class GuestProcessesTests
{
    private static byte[] CommandLine(params string[] words) => Encoding.ASCII.GetBytes(string.Join('\0', words) + '\0');

    [Fact]
    public void Finds_the_uuid_after_its_option()
    {
        var uuid = Guid.NewGuid();
        Assert.Equal(uuid, GuestProcesses.UuidOf(CommandLine("/usr/bin/qemu-system-x86_64", "-name", "guest=a,debug-threads=on", "-uuid", uuid.ToString(), "-smp", "1")));
        Assert.Null(GuestProcesses.UuidOf(CommandLine("qemu", "-uuid")));
        Assert.Null(GuestProcesses.UuidOf(CommandLine("qemu", "-uuid", "not-a-uuid")));
        Assert.Null(GuestProcesses.UuidOf(CommandLine("qemu", "x-uuid", uuid.ToString())));
        Assert.Null(GuestProcesses.UuidOf(null));
    }

    [Fact]
    public void Reads_the_start_time_even_when_the_command_name_has_spaces_and_parentheses()
    {
        string stat = "4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 987654 1000000 200 18446744073709551615 0 0 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        Assert.Equal(987654, GuestProcesses.StartTicks(Encoding.ASCII.GetBytes(stat)));
        Assert.Null(GuestProcesses.StartTicks(Encoding.ASCII.GetBytes("4242 (short) S 1")));
        Assert.Null(GuestProcesses.StartTicks(null));
    }

    [Fact]
    public void Finds_a_real_process_by_the_uuid_on_its_command_line()
    {
        var uuid = Guid.NewGuid();
        // A shell stands in for QEMU: its arguments after the script are "-uuid UUID", as QEMU's are.
        var start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "sleep 30; true", "-uuid", uuid.ToString() } };
        DateTime before = DateTime.UtcNow;
        using var process = Process.Start(start)!;
        try
        {
            var found = GuestProcesses.StartTimes(new HashSet<Guid> { uuid, Guid.NewGuid() });
            var started = Assert.Single(found);
            Assert.Equal(uuid, started.Key);
            // /proc/stat's boot time has a one-second resolution, and the clock tick another hundredth.
            Assert.InRange(started.Value, before.AddSeconds(-2), DateTime.UtcNow.AddSeconds(2));
        }
        finally
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    [Fact]
    public void Asking_for_no_guest_reads_nothing() => Assert.Empty(GuestProcesses.StartTimes(new HashSet<Guid>(), "/nonexistent"));
}
