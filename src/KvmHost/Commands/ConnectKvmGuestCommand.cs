using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// The serial console of a running guest in this terminal (virsh console; Hyper-V's vmconnect for text): keys go
/// to the guest as typed, its output comes back, until Ctrl+] detaches. Needs an interactive terminal; several
/// guests are visited one after the other.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "KvmGuest", DefaultParameterSetName = GuestParameterSets.ByName)]
public sealed class ConnectKvmGuestCommand : GuestSelectionCmdlet
{
    private const string Purpose = "Connect-KvmGuest";
    private Terminal? _terminal;

    /// <summary>Take the console over from another client that holds it (its session ends), as virsh console --force.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginCore()
    {
        // Before any connection: the terminal is the caller's, and the stream needs the event loop to exist when
        // the connection is opened.
        _terminal = Terminal.Open(Purpose);
        GuestConsoleSession.PrepareProcess();
    }

    protected override void ProcessCore()
    {
        var guests = ResolveTargets();
        foreach (var guest in guests)
        {
            ConsoleEnd end;
            string? endedBecause;
            using (var session = GuestConsoleSession.Open(guest, Force))
            {
                Host.UI.WriteLine($"Connected to guest '{guest.Name}' on {guest.Connection.Uri}.");
                Host.UI.WriteLine($"Escape character is {GuestConsoleSession.EscapeKeyName}: it detaches and leaves the guest running.");
                end = session.Run(_terminal!, Cancellation);
                endedBecause = session.EndedBecause;
            }
            Host.UI.WriteLine();
            switch (end)
            {
                case ConsoleEnd.GuestClosed:
                    WriteWarning(endedBecause is null
                        ? $"The console of '{guest.Name}' closed: the guest stopped."
                        : $"The console of '{guest.Name}' was closed by libvirt ({endedBecause}): another session took it over (-Force), or the guest's console went away.");
                    break;
                case ConsoleEnd.InputClosed:
                    return;
                case ConsoleEnd.Cancelled:
                    throw new PipelineStoppedException();
                default:
                    WriteVerbose($"Detached from '{guest.Name}'; it keeps running.");
                    break;
            }
        }
    }
}
