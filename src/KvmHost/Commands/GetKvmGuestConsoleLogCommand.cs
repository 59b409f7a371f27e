using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// What guests printed on their serial console, from the log file their definition names (for scripts and
/// compliance checks: boot messages, a login prompt, a panic), one string per line.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KvmGuestConsoleLog", DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(string))]
public sealed class GetKvmGuestConsoleLogCommand : GuestSelectionCmdlet
{
    /// <summary>Only the last N lines.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    protected override void ProcessCore()
    {
        var guests = ResolveTargets();
        foreach (var guest in guests)
        {
            try
            {
                WriteObject(GuestConsoleLog.Read(guest, Tail), enumerateCollection: true);
            }
            catch (KvmHostException failure) when (guests.Count > 1)
            {
                WriteFailure(failure); // one guest without a log does not hide the others'
            }
        }
    }
}
